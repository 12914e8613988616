"""Text classification (sequence classification): one text column, one label per row."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelmill.task_types import TEXT_CLASSIFICATION

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


class TextClassification:
    name = TEXT_CLASSIFICATION
    pipeline_tag = TEXT_CLASSIFICATION
    columns = ("text", "label")
    metrics = None
    baselines = ("majority", "classical")  # evaluate.baselines.must_beat may name these
    not_available = ("generation", "retention", "json_schema")

    def read(self, spec: DataSpec) -> tuple[datasets.DatasetDict, list[str], dict[str, int], str]:
        from modelmill.data.reading import read_data

        return read_data(spec)

    def check_files(self, where: str, spec: PipelineSpec) -> tuple[list[str], dict[str, list[str]]]:
        from modelmill.runtime.preflight import check_data

        return check_data(where, spec)

    def class_names(self, labels: list[str]) -> list[str]:
        return labels

    def rules(self, spec: ValidationSpec, data: DataManifest, train: datasets.Dataset
              ) -> list[tuple[str, ExpectationRule]]:
        from modelmill.checks.builtin import builtin_rules

        return builtin_rules(spec.checks, data, train)

    def checks(self, spec: ValidationSpec, data: DataManifest, dataset: datasets.DatasetDict) -> list[RuleResult]:
        from modelmill.checks.builtin import plain_checks

        return plain_checks(spec.checks, data, dataset, spec.splits, spec.sample_rows)

    def tokenize(self, dataset: Any, tokenizer: PreTrainedTokenizerBase, data: DataManifest, spec: TokenizerSpec
                 ) -> Any:
        from modelmill.training.tokenizing import tokenize_splits

        return tokenize_splits(dataset, tokenizer, data, spec.max_length)

    def load_model(self, model: ModelSpec, labels: list[str]) -> PreTrainedModel:
        from modelmill.training.loading import load_classifier

        return load_classifier(model, labels)

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Any:
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer)

    def training_metrics(self, prediction: EvalPrediction) -> dict[str, float]:
        from modelmill.training.fine_tune import eval_accuracy

        return eval_accuracy(prediction)

    def evaluate(self, model: ModelManifest, tokens: TokenizedManifest, data: DataManifest, spec: EvaluateSpec,
                 key: str, output: Path) -> EvaluationReport:
        from modelmill.evaluation.assess import assess

        return assess(model, tokens, data, spec, key, output)

    def score_published(self, folder: Path, names: list[str], data: DataManifest, labels: list[str],
                        spec: EvaluateSpec, tokenizer: TokenizerSpec
                        ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        from modelmill.hub.challenge import champion_scores

        return champion_scores(folder, names, data, labels, spec, tokenizer.max_length)


TASK = TextClassification()
