"""Task types: what differs between text classification, token classification and the others (columns and their
checks, tokenization and label alignment, model class, collator, training metric, evaluation, model-card tag).
The stages call the pipeline's task type; a new one is a module here and an entry in TASK_TYPES."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from modelmill.task_types.base import TaskType

TEXT_CLASSIFICATION = "text-classification"
TOKEN_CLASSIFICATION = "token-classification"
QUESTION_ANSWERING = "question-answering"
SUMMARIZATION = "summarization"
FILL_MASK = "fill-mask"
TEXT_GENERATION = "text-generation"
PREFERENCE = "preference"
TASK_TYPES = {  # `task:` in pipelines.yaml -> the module that implements it
    TEXT_CLASSIFICATION: "modelmill.task_types.text_classification",
    TOKEN_CLASSIFICATION: "modelmill.task_types.token_classification",
    QUESTION_ANSWERING: "modelmill.task_types.question_answering",
    SUMMARIZATION: "modelmill.task_types.summarization",
    FILL_MASK: "modelmill.task_types.fill_mask",
    TEXT_GENERATION: "modelmill.task_types.text_generation",
    PREFERENCE: "modelmill.task_types.preference",
}

TaskName = Literal[TEXT_CLASSIFICATION, TOKEN_CLASSIFICATION, QUESTION_ANSWERING, SUMMARIZATION, FILL_MASK,
                   TEXT_GENERATION, PREFERENCE]


def task_type(name: str) -> TaskType:
    """The task type `name` (a key of TASK_TYPES); its module is imported on first use."""
    return import_module(TASK_TYPES[name]).TASK
