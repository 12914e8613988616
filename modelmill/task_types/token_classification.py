"""Token classification (named-entity recognition): a list of words and a list of IOB2 tags per row (JSON Lines),
a tag per word; scored on whole entities (seqeval), overall and per entity type."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelmill.config.evaluate import unknown_classes
from modelmill.data.folders import at_row
from modelmill.runtime.errors import ConfigError, DataError
from modelmill.task_types import TOKEN_CLASSIFICATION
from modelmill.task_types.scored import published_scores, scored_evaluation
from modelmill.task_types.splits import check_local_files, read_checked, require_columns

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
    from modelmill.manifests import (
        DataManifest,
        RuleResult,
        Scores,
    )

IGNORED = -100  # the label of positions the loss and the metrics skip: special tokens, later sub-tokens of a word
OUTSIDE = "O"
SAMPLE = 5


def entity_type(tag: str) -> str | None:
    """PER for B-PER and I-PER; None for O."""
    return None if tag == OUTSIDE else tag[2:]


def tag_problem(tag: Any) -> str | None:
    """Why `tag` is not an IOB2 tag (O, B-<type>, I-<type>), or None."""
    if not isinstance(tag, str):
        return f"{tag!r} is not a string"
    if tag != OUTSIDE and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
        return f"'{tag}' is not an IOB2 tag (O, B-<type> or I-<type>)"
    return None


def order_tags(tags: set[str]) -> list[str]:
    """O first, then B- and I- of each entity type, types in alphabetical order."""
    types = sorted({entity_type(tag) for tag in tags} - {None})
    return [OUTSIDE] + [f"{prefix}-{kind}" for kind in types for prefix in ("B", "I")]


def entity_types(labels: list[str]) -> list[str]:
    return sorted({kind for tag in labels if (kind := entity_type(tag)) is not None})


def row_problem(tokens: Any, tags: Any, spec: DataSpec) -> str | None:
    """Why one row cannot be trained on, naming its columns; None when it can."""
    words, marks = spec.text_column, spec.label_column
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        return f"column '{words}' must be a list of strings (got {type(tokens).__name__})"
    if not isinstance(tags, list):
        return f"column '{marks}' must be a list of tags (got {type(tags).__name__})"
    if len(tokens) != len(tags):
        return f"'{words}' has {len(tokens)} words and '{marks}' {len(tags)} tags: one tag per word"
    if not tokens:
        return f"'{words}' is empty"
    return next((f"column '{marks}': {problem}" for tag in tags if (problem := tag_problem(tag))), None)


def check_split(part: datasets.Dataset, split: str, source: str, spec: DataSpec) -> set[str]:
    """The tags of a split, or a DataError naming its source, row and column (and tags data.labels lacks)."""
    require_columns(part, split, source, [spec.text_column, spec.label_column],
                    "token-classification reads data.text_column (words) and data.label_column (tags)")
    seen: set[str] = set()
    for row, (tokens, tags) in enumerate(zip(part[spec.text_column], part[spec.label_column], strict=True), 1):
        problem = row_problem(tokens, tags, spec)
        if problem:
            raise DataError(f"{at_row(source, part, row)}: {problem}")
        seen.update(tags)
    unknown = sorted(seen - set(spec.labels or seen))
    if unknown:
        raise DataError(f"{source}: tags {unknown} are not in data.labels {spec.labels}")
    return seen


def iob2_breaks(tags: list[str]) -> int:
    """How many I- tags do not continue an entity of their type (strict IOB2 starts every entity with B-)."""
    breaks, previous = 0, OUTSIDE
    for tag in tags:
        if tag.startswith("I-") and entity_type(previous) != entity_type(tag):
            breaks += 1
        previous = tag
    return breaks


def align_labels(word_ids: list[int | None], tags: list[int], labels: list[str], every_subtoken: bool) -> list[int]:
    """A label per token: the word's tag on its first sub-token; on the others IGNORED, or (every_subtoken) the
    word's tag with B- turned into I- (transformers' token-classification example, `label_all_tokens`)."""
    aligned, previous = [], None
    for word in word_ids:
        if word is None:
            aligned.append(IGNORED)
        elif word != previous:
            aligned.append(tags[word])
        elif every_subtoken:
            inside = f"I-{labels[tags[word]][2:]}"  # declared tags may lack it: then the word's own tag
            aligned.append(labels.index(inside) if labels[tags[word]].startswith("B-") and inside in labels
                           else tags[word])
        else:
            aligned.append(IGNORED)
        previous = word
    return aligned


def labelled(predictions: np.ndarray, label_ids: np.ndarray, labels: list[str]
             ) -> tuple[list[list[str]], list[list[str]]]:
    """Predicted and true tag sequences over the labelled positions of each row (IGNORED ones dropped)."""
    predicted, true = [], []
    for row_predictions, row_labels in zip(predictions, label_ids, strict=True):
        kept = row_labels != IGNORED
        predicted.append([labels[i] for i in row_predictions[kept]])
        true.append([labels[i] for i in row_labels[kept]])
    return predicted, true


def in_our_ids(predictions: np.ndarray, names: list[str], labels: list[str]) -> np.ndarray:
    """Tag ids of a model whose tags are `names` (a published one may order them otherwise) as ids of `labels`,
    by name; IGNORED positions stay IGNORED."""
    if names == labels:
        return predictions
    ours = np.array([labels.index(name) for name in names])
    return np.where(predictions == IGNORED, IGNORED, ours[np.clip(predictions, 0, None)])


def entity_scores(predicted: list[list[str]], true: list[list[str]]) -> dict[str, Any]:
    """The shipped seqeval module's scores: overall_* and one entry per entity type."""
    from modelmill.metrics import load_metric

    return load_metric("seqeval").compute(predictions=predicted, references=true, zero_division=0)


class TokenClassification:
    name = TOKEN_CLASSIFICATION
    pipeline_tag = TOKEN_CLASSIFICATION
    columns = ("tokens", "tags")
    metrics = ("accuracy", "precision", "recall", "f1")  # entity-level (seqeval); accuracy: of tags
    baselines = ()  # evaluate.baselines.must_beat may name these
    not_available = ("sets", "slices", "decision_threshold", "baselines", "generation", "retention",
                     "json_schema")

    def read(self, spec: DataSpec) -> tuple[datasets.DatasetDict, list[str], dict[str, int], str]:
        """One file is cut at random: stratifying by a list of tags means nothing."""
        dataset, source, found = read_checked(spec, check_split)
        labels = list(spec.labels) if spec.labels is not None else order_tags(set().union(*found.values()))
        return dataset, labels, {tag: index for index, tag in enumerate(labels)}, source

    def check_files(self, where: str, spec: PipelineSpec) -> tuple[list[str], dict[str, list[str]]]:
        problems, columns, labels = check_local_files(self.read, spec)
        if labels:  # the tags were read: the entity types `evaluate` names must be among them
            problems += [f"{where}.{problem} (entity types of the data)"
                         for problem in unknown_classes(spec.evaluate, self.class_names(labels))]
        return problems, columns

    def class_names(self, labels: list[str]) -> list[str]:
        return entity_types(labels)

    def rules(self, spec: ValidationSpec, data: DataManifest, train: datasets.Dataset
              ) -> list[tuple[str, ExpectationRule]]:
        return []  # the text checks read one string per row; words and tags were checked as they were read

    def checks(self, spec: ValidationSpec, data: DataManifest, dataset: datasets.DatasetDict) -> list[RuleResult]:
        """Per split: rows whose I- tags do not continue an entity (a warning: seqeval then starts one there)."""
        from modelmill.manifests import RuleResult

        results = []
        for split in spec.splits:
            tags = dataset[split][data.label_column]
            broken = [row for row, row_tags in enumerate(tags, 1) if iob2_breaks(row_tags)]
            results.append(RuleResult(
                split=split, expectation="iob2_tags", rule=f"iob2_tags(column={data.label_column})",
                source="built-in: iob2_tags", severity="warning", column=data.label_column, success=not broken,
                unexpected_count=len(broken), unexpected_percent=100 * len(broken) / max(len(tags), 1),
                sample=[{"row": row, data.label_column: " ".join(tags[row - 1])} for row in broken[:SAMPLE]]))
        return results

    def tokenize(self, dataset: Any, tokenizer: PreTrainedTokenizerBase, data: DataManifest, spec: TokenizerSpec
                 ) -> Any:
        if not tokenizer.is_fast:
            raise ConfigError(f"token-classification needs a fast tokenizer (word ids to align tags); "
                              f"{type(tokenizer).__name__} is not one")
        ids = data.label_ids

        def encode(batch: dict[str, list]) -> dict[str, list]:
            encoded = tokenizer(batch[data.text_column], is_split_into_words=True, truncation=True,
                                max_length=spec.max_length)
            encoded["labels"] = [
                align_labels(encoded.word_ids(row), [ids[tag] for tag in tags], data.labels,
                             spec.subword_labels == "all")
                for row, tags in enumerate(batch[data.label_column])
            ]
            return encoded

        from modelmill.training.tokenizing import encode_splits

        return encode_splits(dataset, encode)

    def load_model(self, model: ModelSpec, labels: list[str]) -> PreTrainedModel:
        from transformers import AutoModelForTokenClassification

        from modelmill.training.loading import load_pretrained

        return load_pretrained(AutoModelForTokenClassification, model, labels)

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> Any:
        from transformers import DataCollatorForTokenClassification

        return DataCollatorForTokenClassification(tokenizer)

    def training_metrics(self, prediction: EvalPrediction) -> dict[str, float]:
        """Token accuracy over the labelled positions."""
        predicted = np.argmax(prediction.predictions, axis=-1)
        kept = prediction.label_ids != IGNORED
        return {"accuracy": float((predicted[kept] == prediction.label_ids[kept]).mean()) if kept.any() else 0.0}

    def score(self, folder: Path, names: list[str], test: datasets.Dataset, data: DataManifest, spec: EvaluateSpec,
              labels: list[str]) -> Scores:
        """Entity-level scores of the model in `folder` (its tags: `names`) against `labels`' tag ids."""
        from modelmill.manifests import Scores

        predictions, label_ids = predict_tags(folder, test, spec.batch_size)
        scores = entity_scores(*labelled(in_our_ids(predictions, names, labels), label_ids, labels))
        types = entity_types(labels)
        return Scores(name="test", num_examples=len(predictions), metrics=metric_values(scores, spec.metrics),
                      per_class={f"{metric}[{kind}]": scores[kind][metric] if kind in scores else 0.0
                                 for kind in types for metric in ("precision", "recall", "f1")},
                      support={kind: scores[kind]["number"] if kind in scores else 0 for kind in types})

    evaluate = scored_evaluation
    score_published = published_scores


def metric_values(scores: dict[str, Any], names: list[str]) -> dict[str, float]:
    """evaluate.metrics as entity-level scores (accuracy: of tags), plus the macro F1 over entity types."""
    from modelmill.config.base import MACRO_F1

    unknown = [name for name in names if name not in TokenClassification.metrics]
    if unknown:
        raise ConfigError(f"evaluate.metrics: {unknown} are not token-classification metrics "
                          f"({', '.join(TokenClassification.metrics)}: entity-level, from seqeval)")
    types = [value for value in scores.values() if isinstance(value, dict)]
    macro = float(np.mean([value["f1"] for value in types])) if types else 0.0
    return {**{name: float(scores[f"overall_{name}"]) for name in names}, MACRO_F1: macro}


def predict_tags(model_dir: Path, split: datasets.Dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted tag ids and true label ids of every row, padded to one length with IGNORED."""
    from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification

    from modelmill.evaluation.batches import model_batches, saved_model

    model, tokenizer, device = saved_model(AutoModelForTokenClassification, str(model_dir))
    width = max((len(labels) for labels in split["labels"]), default=0)
    predicted = np.full((split.num_rows, width), IGNORED)
    true = np.full((split.num_rows, width), IGNORED)
    start = 0
    for rows, batch, output in model_batches(model, tokenizer, device, split, batch_size,
                                             DataCollatorForTokenClassification(tokenizer), extra=["labels"]):
        length = batch["labels"].shape[1]
        predicted[start:start + len(rows), :length] = output.logits.argmax(-1).cpu().numpy()
        true[start:start + len(rows), :length] = batch["labels"].cpu().numpy()
        start += len(rows)
    return predicted, true


TASK = TokenClassification()
