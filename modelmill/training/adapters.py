"""LoRA adapters through PEFT, shared by every task type: the loaded model wrapped before training, the adapter
published as the artifact (with a record of the base it adapts), and a trained folder loaded back as base + adapter
wherever a model is read (evaluation, the champion, a downstream pipeline, a merged release).

The base is named, never copied: by its reference and revision, or, for weights drawn from the seed (`from_config`,
a warm-started encoder-decoder), by the spec and seed that draw them again. A task's new head is trained in full and
saved with the adapter (PEFT's `modules_to_save`), so the base's own head never matters."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmill.runtime.errors import ConfigError
from modelmill.task_types import (
    FILL_MASK,
    PREFERENCE,
    QUESTION_ANSWERING,
    SUMMARIZATION,
    TEXT_CLASSIFICATION,
    TEXT_GENERATION,
    TOKEN_CLASSIFICATION,
)

if TYPE_CHECKING:
    from modelmill.config import AdapterSpec, ModelSpec

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
RECORD = "modelmill_adapter.json"  # beside the adapter: the base it adapts, the task and labels of its head
PEFT_TASKS = {  # PEFT's task type of each of ours: it picks the head that `modules_to_save` trains in full
    TEXT_CLASSIFICATION: "SEQ_CLS", TOKEN_CLASSIFICATION: "TOKEN_CLS", QUESTION_ANSWERING: "QUESTION_ANS",
    SUMMARIZATION: "SEQ_2_SEQ_LM", TEXT_GENERATION: "CAUSAL_LM", PREFERENCE: "CAUSAL_LM", FILL_MASK: None,
}
HEADS = {  # the new heads PEFT's task types train in full (`modules_to_save` unless the spec names others)
    TEXT_CLASSIFICATION: ["classifier", "score"], TOKEN_CLASSIFICATION: ["classifier", "score"],
    QUESTION_ANSWERING: ["qa_outputs"],
}


def require_peft() -> None:
    if importlib.util.find_spec("peft") is None:
        raise ConfigError("train.adapter: training or loading an adapter needs the peft package: pip install "
                          "'modelmill[adapters]'")


def quantized_loading(spec: AdapterSpec | None) -> dict[str, Any]:
    """`from_pretrained` options of the base: a 4-bit NF4 base for qlora, which needs a CUDA device and
    bitsandbytes (refused here otherwise, never trained as plain LoRA instead); nothing for lora."""
    if spec is None or spec.method != "qlora":
        return {}
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("train.adapter.method: qlora loads the base in 4 bits with bitsandbytes, which needs a "
                          "CUDA device, and this machine has none: use method: lora, or run on a GPU work pool")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("train.adapter.method: qlora needs the bitsandbytes package: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    return {"quantization_config": BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)}


def with_adapter(model: Any, spec: AdapterSpec, task: str, gradient_checkpointing: bool = False) -> Any:
    """`model` frozen, with a LoRA adapter on `spec.target_modules` and its head (or `spec.modules_to_save`)
    trained in full."""
    require_peft()
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if spec.method == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    elif gradient_checkpointing:  # checkpointed blocks need inputs that require gradients, or nothing trains
        model.enable_input_require_grads()
    heads = spec.modules_to_save or HEADS.get(task, [])
    present = [name for name in heads if any(part.rsplit(".", 1)[-1] == name for part, _ in model.named_modules())]
    config = LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout,
                        target_modules=spec.target_modules, modules_to_save=spec.modules_to_save,
                        exclude_modules=present or None,  # a head trained in full gets no adapter besides
                        task_type=PEFT_TASKS[task])
    if isinstance(spec.target_modules, list) and (problem := missing_layers(model, spec.target_modules)):
        raise ConfigError(f"train.adapter.target_modules: {problem}")
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise ConfigError(f"train.adapter: {exc}") from None


def linear_layers(model: Any) -> list[str]:
    """The names (last part) of the model's linear layers: what target_modules may name."""
    import torch

    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and name})


def missing_layers(model: Any, names: list[str]) -> str | None:
    """What `target_modules` names that the model has no linear layer of (None: every name is one)."""
    known = linear_layers(model)
    missing = [name for name in names if name.rsplit(".", 1)[-1] not in known]
    return f"the model has no linear layer named {missing} (its linear layers: {', '.join(known)})" \
        if missing else None


AUTO_CLASSES = {  # the transformers class each task type trains (as its load_model builds it)
    TEXT_CLASSIFICATION: "AutoModelForSequenceClassification", TOKEN_CLASSIFICATION: "AutoModelForTokenClassification",
    QUESTION_ANSWERING: "AutoModelForQuestionAnswering", SUMMARIZATION: "AutoModelForSeq2SeqLM",
    TEXT_GENERATION: "AutoModelForCausalLM", PREFERENCE: "AutoModelForCausalLM", FILL_MASK: "AutoModelForMaskedLM",
}


def model_skeleton(spec: Any) -> Any:
    """The pipeline's model built from its config on the meta device (its layers, no weights): for `check`. None
    where the config is not on this machine (a Hub id not cached) or the model is a warm-started encoder-decoder."""
    import torch
    import transformers

    from modelmill.training.loading import gguf_source
    from modelmill.training.resources import resolve_model_ref

    model = spec.model
    if model.encoder_decoder:
        return None
    try:
        path, options = gguf_source(model) if model.gguf_file else (resolve_model_ref(str(model.name_or_path)), {})
        config = transformers.AutoConfig.from_pretrained(path, revision=model.revision,
                                                         trust_remote_code=model.trust_remote_code, **options)
        with torch.device("meta"):
            return getattr(transformers, AUTO_CLASSES[spec.task]).from_config(config)
    except (OSError, ValueError):
        return None


def parameter_counts(model: Any) -> tuple[int, int]:
    """(trainable, all) parameters of a model, adapted or not."""
    if hasattr(model, "get_nb_trainable_parameters"):
        return tuple(int(n) for n in model.get_nb_trainable_parameters())  # type: ignore[return-value]
    parameters = list(model.parameters())
    return sum(p.numel() for p in parameters if p.requires_grad), sum(p.numel() for p in parameters)


def seeded_weights(model: ModelSpec) -> bool:
    """Whether the base's weights are drawn from the seed (all of them, or a warm-start's new cross-attention)."""
    return model.from_config or model.encoder_decoder


def base_identity(model: ModelSpec, seed: int) -> str:
    """Which weights an adapter adapts (12 hex digits): equal for two runs whose bases are equal weight for weight,
    whatever folder they were read from. Another pipeline's model counts by its training run."""
    origin = model.origin if model.from_pipeline is None else \
        f"{model.origin}@{Path(str(model.name_or_path)).parent.name}"
    parts = [origin, model.revision, model.gguf_file, model.from_config, model.encoder_decoder,
             seed if seeded_weights(model) else None]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]


def public_base(model: ModelSpec) -> str:
    """How a published adapter names its base: a Hub id, a pkg: reference or another pipeline as written; a local
    folder by its name only (its path stays private)."""
    from modelmill.hub.model_card import hub_model_id

    origin = model.origin
    if origin.startswith(("pkg:", "pipeline:")) or hub_model_id(origin):
        return origin
    return Path(origin).name


def write_record(folder: Path, model: ModelSpec, task: str, labels: list[str], seed: int) -> None:
    """Name the base in the adapter saved in `folder`: its adapter_config.json names it publicly (a Hub id where it
    is one: PEFT loads it from there), the record says how this machine builds it again."""
    config_file = folder / ADAPTER_CONFIG
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config.update(base_model_name_or_path=public_base(model), revision=model.revision)
    write_json(config_file, config)
    write_json(folder / RECORD, {"base_model": public_base(model), "identity": base_identity(model, seed),
                                 "task": task, "labels": labels, "seed": seed, "model": model.model_dump(mode="json")})


def write_json(path: Path, value: dict[str, Any]) -> None:
    """`value` as `path`, a new file (the old one maybe a hard link to a trained model's file: never written
    through)."""
    path.unlink(missing_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def is_adapter(folder: Path | str) -> bool:
    return (Path(folder) / ADAPTER_CONFIG).is_file()


def read_record(folder: Path | str) -> dict[str, Any]:
    """The base record of the adapter in `folder` (a ConfigError naming the file when it is missing or unreadable:
    an adapter without it cannot be rebuilt on its base)."""
    path = Path(folder) / RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(record, dict) and isinstance(record["labels"], list)
        return record
    except (OSError, ValueError, KeyError, AssertionError):
        raise ConfigError(f"{path}: an adapter needs modelmill's record of its base model (missing or "
                          "unreadable)") from None


def public_record(folder: Path) -> None:
    """Drop what only this machine means from the record in `folder` (the base's local spec) before it leaves."""
    record = read_record(folder)
    record.pop("model", None)
    write_json(folder / RECORD, record)


def adopt_base(folder: Path, model: ModelSpec, seed: int) -> None:
    """Rebuild the published adapter in `folder` on this run's own base (its record, from the Hub, is never
    trusted with what to load): only called once its identity matched `base_identity(model, seed)`."""
    write_json(folder / RECORD, {**read_record(folder), "model": model.model_dump(mode="json"), "seed": seed})


def adapted_model(folder: Path | str) -> Any:
    """The base the record in `folder` names (its seeded weights drawn again) with the adapter on it."""
    require_peft()
    from peft import PeftModel
    from transformers import set_seed

    from modelmill.config import ModelSpec
    from modelmill.task_types import task_type

    record = read_record(folder)
    if "model" not in record:
        raise ConfigError(f"{Path(folder) / RECORD}: a published record names no base this machine can build")
    set_seed(int(record["seed"]))
    base = task_type(record["task"]).load_model(ModelSpec.model_validate(record["model"]), record["labels"])
    return PeftModel.from_pretrained(base, str(folder))


def load_trained(auto_class: Any, folder: Path | str) -> Any:
    """The model saved in `folder`: a plain one as `auto_class`, an adapter merged into its base."""
    if not is_adapter(folder):
        return auto_class.from_pretrained(str(folder))
    return adapted_model(folder).merge_and_unload()


def merged_folder(folder: Path) -> Path:
    """A plain model: the adapter in `folder` merged into its base and saved with its tokenizer, once per adapter
    (by content) under this machine's home, never half written. Two merges of one adapter are equal byte for
    byte."""
    from transformers import AutoTokenizer

    from modelmill.storage.artifacts import files_fingerprint, made_once, stage_dir

    def merge(scratch: Path) -> None:
        load_trained(None, folder).save_pretrained(str(scratch))
        AutoTokenizer.from_pretrained(str(folder)).save_pretrained(str(scratch))

    files = sorted(path for path in folder.iterdir() if path.is_file())
    return made_once(stage_dir("merge", files_fingerprint(files)[:16]) / "model", merge)
