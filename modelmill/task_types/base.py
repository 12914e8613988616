"""What a task type supplies to the stages (a Protocol: each module's TASK implements it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import datasets
    from transformers import EvalPrediction, PreTrainedModel, PreTrainedTokenizerBase

    from modelmill.config import (
        DataSpec,
        EvaluateSpec,
        ExpectationRule,
        ModelSpec,
        PipelineSpec,
        TokenizerSpec,
        ValidationSpec,
    )
    from modelmill.manifests import DataManifest, EvaluationReport, ModelManifest, RuleResult, TokenizedManifest


class TaskType(Protocol):
    name: str  # `task:` in pipelines.yaml
    pipeline_tag: str  # the model card's pipeline_tag and model-index task type
    columns: tuple[str, str]  # data.text_column and data.label_column unless the pipeline names others
    metrics: tuple[str, ...] | None  # what evaluate.metrics may name (None: any shipped or opted-in module)
    not_available: tuple[str, ...]  # `evaluate` fields it does not have: refused when declared, never ignored
    baselines: tuple[str, ...]  # the cheap models it scores beside the fine-tune (evaluate.baselines), its default

    def read(self, spec: DataSpec) -> tuple[datasets.DatasetDict, list[str], dict[str, int], str]:
        """The splits with their columns as read, the label names, raw label -> id, a description of the source."""

    def check_files(self, where: str, spec: PipelineSpec) -> tuple[list[str], dict[str, list[str]]]:
        """Before any work (`modelmill check`): what the load stage would refuse in the local data files, one line
        each naming the file, row or column, and the columns of each split."""

    def class_names(self, labels: list[str]) -> list[str]:
        """What `evaluate.class_thresholds` and guards may name: the labels, or the entity types of the tags."""

    def rules(self, spec: ValidationSpec, data: DataManifest, train: datasets.Dataset
              ) -> list[tuple[str, ExpectationRule]]:
        """The built-in checks GX can express, as rules built from the train split (with where they come from)."""

    def checks(self, spec: ValidationSpec, data: DataManifest, dataset: datasets.DatasetDict) -> list[RuleResult]:
        """The built-in checks that are not GX rules, one result per check and split."""

    def tokenize(self, dataset: Any, tokenizer: PreTrainedTokenizerBase, data: DataManifest, spec: TokenizerSpec
                 ) -> Any:
        """Model inputs with a `labels` column (or what the model's loss reads), unpadded."""

    def load_model(self, model: ModelSpec, labels: list[str]) -> PreTrainedModel:
        """The pretrained model with a fresh head for `labels`."""

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Any:
        """Pads a batch (inputs and labels)."""

    # what each validation evaluation reports besides the loss (`accuracy` picks checkpoints and trials); None:
    # the loss only
    training_metrics: Callable[[EvalPrediction], dict[str, float]] | None

    def evaluate(self, model: ModelManifest, tokens: TokenizedManifest, data: DataManifest, spec: EvaluateSpec,
                 key: str, output: Path) -> EvaluationReport:
        """The test-split evaluation with its gates."""

    def score_published(self, folder: Path, names: list[str], data: DataManifest, labels: list[str],
                        spec: EvaluateSpec, tokenizer: TokenizerSpec
                        ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """A published model (in `folder`, its labels `names`) scored as `evaluate` scores the new one (inputs made
        by its own tokenizer with `tokenizer`'s settings, predictions in `labels`' ids): averaged and per-class
        metrics of the test split, and of each extra set by name (the champion of `evaluate.promote`)."""
