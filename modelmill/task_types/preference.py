"""Preference tuning (`task: preference`): a chat model, usually an SFT pipeline's (`model.from_pipeline`), aligned
on pairs of answers to one prompt, one preferred (`chosen`) over the other (`rejected`), with TRL: DPO (`DPOTrainer`,
the model it starts from as the reference; with `train.adapter`, that is the base with the adapter switched off, no
second copy) or ORPO (`train.objective: orpo`, no reference). Rows are text (`prompt`, `chosen`, `rejected`) or in
chat form (`prompt`: turns ending with the user's; `chosen`, `rejected`: the assistant's turns), rendered with the
tokenizer's chat template.

The test pairs are scored on what DPO optimises, against the model the tuning started from: the implicit reward of
an answer is beta times the rise of its log-probability over the reference's; `preference_accuracy` is the share of
pairs whose chosen answer gains more than the rejected one, `reward_margin` the mean difference (the reference
scores zero on both, and must be beaten). The flow also scores the aligned model on the SFT pipeline's own test set,
beside the SFT model, under that pipeline's gates: what alignment cost in answer quality."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmill.data.folders import at_row
from modelmill.runtime.errors import ConfigError, DataError
from modelmill.task_types import PREFERENCE, TEXT_GENERATION
from modelmill.task_types.splits import UnlabelledRows, require_columns
from modelmill.task_types.text_generation import ROLES, prepare_tokenizer, render

if TYPE_CHECKING:
    import datasets
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from modelmill.config import DataSpec, EvaluateSpec, ModelSpec, TokenizerSpec
    from modelmill.manifests import DataManifest, EvaluationReport, ModelManifest, TokenizedManifest

METRICS = ("reward_margin", "preference_accuracy")
COLUMNS = ("prompt", "chosen", "rejected")
IDS = ("prompt_ids", "chosen_ids", "rejected_ids")
REFERENCE = "reference"


def turns_problem(value: Any, column: str, last: str) -> str | None:
    """What is wrong with a column in chat form (None: nothing): turns of known roles with text, the last by
    `last` (the prompt ends with the user's turn, an answer is the assistant's)."""
    if not isinstance(value, list) or not value:
        return f"column '{column}' is neither text nor a list of {{role, content}} turns"
    for index, turn in enumerate(value):
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str) \
                or not turn["content"].strip():
            return f"{column}[{index}] is not a {{role, content}} turn with text (roles: {', '.join(ROLES)})"
    if value[-1]["role"] != last:
        return f"{column} ends with a '{value[-1]['role']}' turn: it must end with the {last}'s"
    return None


def pair_problem(row: dict[str, Any]) -> str | None:
    """What is wrong with one preference row, naming the column (None: nothing)."""
    for column, last in (("prompt", "user"), ("chosen", "assistant"), ("rejected", "assistant")):
        value = row[column]
        if isinstance(value, str):
            if not value.strip():
                return f"column '{column}' is empty"
        elif (problem := turns_problem(value, column, last)) is not None:
            return problem
    if row["chosen"] == row["rejected"]:
        return "chosen and rejected are the same answer: the pair prefers nothing"
    return None


def check_split(part: datasets.Dataset, split: str, source: str, spec: DataSpec) -> None:
    require_columns(part, split, source, COLUMNS, "preference tuning reads prompt, chosen and rejected")
    for index, row in enumerate(part.select_columns(list(COLUMNS)), 1):
        if (problem := pair_problem(row)) is not None:
            raise DataError(f"{at_row(source, part, index)}: split '{split}': {problem}")


def as_turns(value: Any, role: str) -> list[dict[str, str]]:
    return [{"role": role, "content": value}] if isinstance(value, str) else \
        [{"role": turn["role"], "content": turn["content"]} for turn in value]


def encode_pair(tokenizer: PreTrainedTokenizerBase, row: dict[str, Any], spec: TokenizerSpec, where: str
                ) -> dict[str, Any]:
    """The prompt as the template opens the assistant's turn, each answer as it continues it (text, for ORPO, and
    token ids, for DPO); an answer cut so that prompt and answer fit `max_length` (or refused, `too_long: refuse`)."""
    prompt = as_turns(row["prompt"], "user")
    opening = render(tokenizer, prompt, prompt=True)
    prompt_ids = tokenizer(opening, add_special_tokens=False)["input_ids"]
    if len(prompt_ids) >= spec.max_length:
        raise DataError(f"{where}: the prompt alone is {len(prompt_ids)} tokens, tokenizer.max_length is "
                        f"{spec.max_length}: no answer token would be left to learn from")
    out: dict[str, Any] = {"prompt": opening, "prompt_ids": prompt_ids}
    for column in ("chosen", "rejected"):
        whole = render(tokenizer, prompt + as_turns(row[column], "assistant"), prompt=False)
        if not whole.startswith(opening):
            raise ConfigError("the chat template renders a prompt differently alone than followed by its answer: the "
                              "answers cannot be told apart (use another tokenizer.chat_template)")
        answer = whole[len(opening):]
        ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
        room = spec.max_length - len(prompt_ids)
        if len(ids) > room and spec.too_long == "refuse":
            raise DataError(f"{where}: prompt and {column} answer are {len(prompt_ids) + len(ids)} tokens, over "
                            f"tokenizer.max_length ({spec.max_length}); raise it, shorten the row, or set "
                            "tokenizer.too_long: truncate")
        out[column], out[f"{column}_ids"] = answer, ids[:room]
    return out


def tokenize_pairs(dataset: Any, tokenizer: PreTrainedTokenizerBase, spec: TokenizerSpec) -> Any:
    """Every split as the rendered prompt and answers and their token ids (the prompt's once)."""
    from modelmill.training.tokenizing import encode_splits

    prepare_tokenizer(tokenizer)
    if not tokenizer.chat_template:
        raise ConfigError("the tokenizer has no chat template to render the pairs: name a Jinja file in "
                          "tokenizer.chat_template")

    def encoder(split: str) -> Any:
        def encode(batch: dict[str, list], indexes: list[int]) -> dict[str, list]:
            rows = [encode_pair(tokenizer, {name: batch[name][offset] for name in COLUMNS}, spec,
                                f"split '{split}': row {index + 1}") for offset, index in enumerate(indexes)]
            return {name: [row[name] for row in rows] for name in (*COLUMNS, *IDS)}
        return encode

    return type(dataset)({split: encode_splits(part, encoder(split), with_indices=True)
                          for split, part in dataset.items()})


def answer_logps(model: Any, split: datasets.Dataset) -> tuple[list[float], list[float]]:
    """The summed log-probability of each pair's chosen and of its rejected answer after its prompt."""
    import torch

    sums: dict[str, list[float]] = {"chosen": [], "rejected": []}
    with torch.inference_mode():
        for row in split.select_columns(list(IDS)):
            for column in sums:
                ids = row["prompt_ids"] + row[f"{column}_ids"]
                inputs = torch.tensor([ids], device=model.device)
                logits = model(input_ids=inputs).logits[0, :-1].float()
                picked = torch.log_softmax(logits, -1).gather(1, inputs[0, 1:, None])[:, 0]
                sums[column].append(float(picked[len(row["prompt_ids"]) - 1:].sum()))
    return sums["chosen"], sums["rejected"]


def preference_scores(policy: Any, reference: Any, split: datasets.Dataset, beta: float) -> dict[str, float]:
    """preference_accuracy and reward_margin of `policy` over `reference` on the pairs of `split`."""
    policy_chosen, policy_rejected = answer_logps(policy, split)
    reference_chosen, reference_rejected = answer_logps(reference, split)
    margins = [beta * ((pc - rc) - (pr - rr)) for pc, pr, rc, rr in
               zip(policy_chosen, policy_rejected, reference_chosen, reference_rejected, strict=True)]
    return {"preference_accuracy": sum(margin > 0 for margin in margins) / len(margins),
            "reward_margin": sum(margins) / len(margins)}


class Preference(UnlabelledRows):
    name = PREFERENCE
    pipeline_tag = TEXT_GENERATION
    columns = ("prompt", "chosen")
    metrics = METRICS
    default_metrics = METRICS  # the first gates the reference baseline: a mean margin above zero
    baselines = (REFERENCE,)
    not_available = ("sets", "slices", "decision_threshold", "class_thresholds", "retention", "promote",
                     "json_schema")
    training_metrics = None  # validation: the preference loss
    check_split = staticmethod(check_split)

    def tokenize(self, dataset: Any, tokenizer: PreTrainedTokenizerBase, data: DataManifest, spec: TokenizerSpec
                 ) -> Any:
        return tokenize_pairs(dataset, tokenizer, spec)

    def load_model(self, model: ModelSpec, labels: list[str]) -> PreTrainedModel:
        from transformers import AutoModelForCausalLM

        from modelmill.training.loading import load_pretrained

        return load_pretrained(AutoModelForCausalLM, model)

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Any:
        return None  # the preference trainer's own: prompt + chosen and prompt + rejected in one padded batch

    @staticmethod
    def trainer(spec: Any, max_length: int, args: Any, **parts: Any) -> Any:
        """TRL's DPOTrainer on the tokenized pairs (the reference: a frozen copy of the model as it starts, or the
        base with the adapter switched off), or ORPO's on their text."""
        import warnings

        parts.pop("data_collator", None)
        parts.pop("compute_metrics", None)
        # TRL 1.16 asks transformers 5 a deprecated question at every step: noise in the user's terminal
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        # pairs have no single length to group batches by (train.group_by_length): drawn at random
        settings = {**args.to_dict(), "train_sampling_strategy": "random", "beta": spec.beta,
                    "max_length": max_length, "dataset_num_proc": None}
        if spec.objective == "orpo":
            from trl.experimental.orpo import ORPOConfig, ORPOTrainer

            config = ORPOConfig(**settings)
            for split in ("train_dataset", "eval_dataset"):
                parts[split] = parts[split].select_columns(list(COLUMNS))
            return ORPOTrainer(args=config, **parts)
        from accelerate.utils import is_peft_model
        from trl import DPOConfig, DPOTrainer

        class TokenizedPairs(DPOTrainer):
            def _prepare_dataset(self, dataset: Any, *args: Any, **kwargs: Any) -> Any:
                return dataset.select_columns(list(IDS))  # tokenized by the tokenize stage

        model = parts["model"]
        reference = None if is_peft_model(model) else copy.deepcopy(model).eval()
        config = DPOConfig(**settings)
        return TokenizedPairs(args=config, ref_model=reference, **parts)

    def evaluate(self, model: ModelManifest, tokens: TokenizedManifest, data: DataManifest, spec: EvaluateSpec,
                 key: str, output: Path) -> EvaluationReport:
        """The test pairs scored against the model the tuning started from, with the thresholds and the gate that
        the tuning moved the model towards the chosen answers (a margin above the reference's zero)."""
        import datasets
        from transformers import AutoModelForCausalLM, set_seed

        from modelmill.evaluation.figures import publish_training_curve
        from modelmill.evaluation.gates import check_thresholds, check_untuned
        from modelmill.manifests import BaselineScores, EvaluationReport, Scores
        from modelmill.storage.home import local_copy
        from modelmill.training.adapters import load_trained

        assert model.started_from is not None, "a trained model records the spec it started from"
        test = datasets.load_from_disk(str(local_copy(tokens.path)))["test"]
        policy = load_trained(AutoModelForCausalLM, local_copy(model.path)).eval()
        set_seed(model.seed)
        reference = self.load_model(model.started_from, []).eval()
        beta = float(model.training_arguments.get("beta", 0.1))
        scored = preference_scores(policy, reference, test, beta)
        metrics = {name: scored[name] for name in spec.metrics}
        baseline = BaselineScores(name=REFERENCE, description=f"{model.base_model}, the model the preference tuning "
                                  "started from (its rewards are zero by definition)",
                                  scores=Scores(name=REFERENCE, num_examples=test.num_rows,
                                                metrics={name: 0.0 for name in spec.metrics}))
        checks = [*check_thresholds(metrics, spec.thresholds),
                  *([check_untuned(metrics, baseline, spec.metrics[0])] if REFERENCE in spec.baselines.must_beat
                    else [])]
        publish_training_curve(model, output)
        return EvaluationReport(key=key, metrics=metrics, checks=checks, num_examples=test.num_rows,
                                baselines=[baseline], figures=output)

    def score_published(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError("evaluate.promote is not available for task preference")


TASK = Preference()
