"""Load tokenizers and models (with a fresh head) from a Hub id, a local folder or a `pkg:` reference."""

from __future__ import annotations

import functools
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import constants

from modelmill.config import ModelSpec
from modelmill.hub.errors import secret_safe
from modelmill.training.resources import resolve_model_ref

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# `from_pretrained` options of the pretrained weights a training loads (a 4-bit base for QLoRA), set around the
# task type's load_model
BASE_LOADING: ContextVar[dict[str, Any]] = ContextVar("BASE_LOADING", default={})  # noqa: B039 (never mutated)


def model_folder(model: ModelSpec) -> str:
    """What `from_pretrained` reads for `model`: a Hub id or a local folder (a `pkg:` reference resolved, and the
    model a `from_pipeline` pipeline saved under the home copied here when the home is remote, its adapter merged
    into its base)."""
    if model.from_pipeline is not None:  # an adapter that pipeline trained: merged into its base, once
        from modelmill.storage.home import local_copy
        from modelmill.training.adapters import is_adapter, merged_folder

        folder = local_copy(Path(str(model.name_or_path)))
        return str(merged_folder(folder) if is_adapter(folder) else folder)
    if model.gguf_file is not None:
        return str(gguf_weights(model))
    return resolve_model_ref(str(model.name_or_path))


def gguf_weights(model: ModelSpec) -> Path:
    """The folder that holds `model.gguf_file` de-quantised to torch weights, with its tokenizer (and chat
    template): converted once per file (by name and content, or Hub id and revision) under this machine's home,
    other runs waiting on a lock for the one converting, never reading half a folder."""
    from modelmill.storage.artifacts import made_once

    source = resolve_model_ref(str(model.name_or_path))
    return made_once(gguf_folder(model), lambda scratch: convert_gguf(source, model, scratch))


def gguf_folder(model: ModelSpec) -> Path:
    """Where `model.gguf_file` is (or will be) de-quantised under this machine's home: by the file's name and
    content when it is local, else by Hub id and revision."""
    from modelmill.storage.artifacts import file_identity, stable_hash, stage_dir

    assert model.gguf_file is not None
    source = resolve_model_ref(str(model.name_or_path))
    local = Path(source) / model.gguf_file
    identity = file_identity(local) if local.is_file() else f"hub:{source}@{model.revision}/{model.gguf_file}"
    return stage_dir("gguf", stable_hash("gguf", identity)) / "model"


def gguf_source(model: ModelSpec) -> tuple[str, dict[str, str]]:
    """What `from_pretrained` reads for a GGUF model's config and tokenizer without converting its weights: the
    converted folder where it exists, else the file itself (its metadata only)."""
    assert model.gguf_file is not None
    folder = gguf_folder(model)
    if folder.is_dir():
        return str(folder), {}
    return resolve_model_ref(str(model.name_or_path)), {"gguf_file": model.gguf_file}


def gguf_tokenizer(model: ModelSpec) -> PreTrainedTokenizerBase:
    """A GGUF model's tokenizer without converting its weights: from the converted folder where it exists, else
    from the file's metadata, read once per process (reading it takes seconds)."""
    import copy

    from transformers import AutoTokenizer

    path, options = gguf_source(model)
    if not options:
        return AutoTokenizer.from_pretrained(path)
    return copy.deepcopy(_tokenizer_in_gguf(path, options["gguf_file"]))


@functools.lru_cache(maxsize=4)
def _tokenizer_in_gguf(path: str, gguf_file: str) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, gguf_file=gguf_file)


def convert_gguf(source: str, model: ModelSpec, scratch: Path) -> None:
    """De-quantise the GGUF weights (transformers reads llama.cpp files with the `gguf` package) and save them
    with the tokenizer the file carries into `scratch`."""
    import importlib.util

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from modelmill.runtime.errors import ConfigError

    if importlib.util.find_spec("gguf") is None:
        raise ConfigError("model.gguf_file: reading GGUF weights needs the gguf package: pip install "
                          "'modelmill[generative]'")
    from transformers import GgufConfig

    options = {"gguf_file": model.gguf_file, "revision": model.revision}
    with secret_safe(constants.ENDPOINT, source):  # every weight unpacked into a plain dense model
        weights = AutoModelForCausalLM.from_pretrained(source, quantization_config=GgufConfig(dequantize=True),
                                                       **options)
        tokenizer = AutoTokenizer.from_pretrained(source, **options)
    if getattr(weights, "hf_quantizer", None) is not None:  # dense now: saved as plain torch weights
        weights.hf_quantizer.remove_quantization_config(weights)
    weights.save_pretrained(str(scratch))
    tokenizer.save_pretrained(str(scratch))


def load_tokenizer(ref: str, model: ModelSpec) -> PreTrainedTokenizerBase:
    """`AutoTokenizer` for `ref`; the model's revision applies when `ref` is the model itself."""
    from transformers import AutoTokenizer

    with secret_safe(constants.ENDPOINT, ref):
        return AutoTokenizer.from_pretrained(
            model_folder(model) if ref == model.name_or_path else resolve_model_ref(ref),
            revision=model.revision if ref == model.name_or_path else None,
            trust_remote_code=model.trust_remote_code,
        )


def load_classifier(model: ModelSpec, labels: list[str]) -> PreTrainedModel:
    """The pretrained model with a fresh sequence-classification head for `labels`."""
    from transformers import AutoModelForSequenceClassification

    return load_pretrained(AutoModelForSequenceClassification, model, labels)


def load_pretrained(auto_class: Any, model: ModelSpec, labels: list[str] | None = None, **options: Any) -> Any:
    """The pretrained model as `auto_class` (an AutoModelFor... class) with a fresh head (for `labels`, when the
    head classifies); `options` go to `from_pretrained` (e.g. output_loading_info)."""
    named = {} if labels is None else {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                                       "label2id": {label: i for i, label in enumerate(labels)}}
    with secret_safe(constants.ENDPOINT, model.name_or_path):
        if model.from_config:  # new weights (the caller seeded), the architecture of the config
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(model_folder(model), revision=model.revision,
                                                trust_remote_code=model.trust_remote_code, **named)
            return auto_class.from_config(config, trust_remote_code=model.trust_remote_code)
        return auto_class.from_pretrained(
            model_folder(model),
            revision=model.revision,
            trust_remote_code=model.trust_remote_code,
            **named,
            **BASE_LOADING.get(),
            **options,
        )


def warm_started_encoder_decoder(model: ModelSpec) -> PreTrainedModel:
    """A sequence-to-sequence model whose encoder and decoder both start from the pretrained encoder `model`, the
    decoder's cross-attention new (transformers' EncoderDecoderModel, "bert2bert"); decoding starts at its
    tokenizer's [CLS] (or BOS) and ends at [SEP] (or EOS)."""
    from transformers import AutoTokenizer, EncoderDecoderModel

    path = model_folder(model)
    with secret_safe(constants.ENDPOINT, model.name_or_path):
        tokenizer = AutoTokenizer.from_pretrained(path, revision=model.revision,
                                                  trust_remote_code=model.trust_remote_code)
        built = EncoderDecoderModel.from_encoder_decoder_pretrained(
            path, path, encoder_revision=model.revision, decoder_revision=model.revision)
    ids = {"decoder_start_token_id": tokenizer.cls_token_id if tokenizer.cls_token_id is not None
           else tokenizer.bos_token_id,
           "eos_token_id": tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    for config in (built.config, built.generation_config):
        for name, value in ids.items():
            setattr(config, name, value)
    built.config.vocab_size = built.config.encoder.vocab_size
    return built
