"""Load tokenizers and models (with a fresh head) from a Hub id, a local folder or a `pkg:` reference."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from huggingface_hub import constants

from modelmill.config import ModelSpec
from modelmill.hub.errors import secret_safe
from modelmill.training.resources import resolve_model_ref

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def load_tokenizer(ref: str, model: ModelSpec) -> PreTrainedTokenizerBase:
    """`AutoTokenizer` for `ref`; the model's revision applies when `ref` is the model itself."""
    from transformers import AutoTokenizer

    with secret_safe(constants.ENDPOINT, ref):
        return AutoTokenizer.from_pretrained(
            resolve_model_ref(ref),
            revision=model.revision if ref == model.name_or_path else None,
            trust_remote_code=model.trust_remote_code,
        )


def load_classifier(model: ModelSpec, labels: list[str]) -> PreTrainedModel:
    """The pretrained model with a fresh sequence-classification head for `labels`."""
    from transformers import AutoModelForSequenceClassification

    return load_pretrained(AutoModelForSequenceClassification, model, labels)


def load_pretrained(auto_class: Any, model: ModelSpec, labels: list[str] | None = None) -> PreTrainedModel:
    """The pretrained model as `auto_class` (an AutoModelFor... class) with a fresh head (for `labels`, when the
    head classifies)."""
    named = {} if labels is None else {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                                       "label2id": {label: i for i, label in enumerate(labels)}}
    with secret_safe(constants.ENDPOINT, model.name_or_path):
        return auto_class.from_pretrained(
            resolve_model_ref(model.name_or_path),
            revision=model.revision,
            trust_remote_code=model.trust_remote_code,
            **named,
        )
