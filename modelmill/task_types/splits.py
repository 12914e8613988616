"""Reading the splits of a task type whose rows are checked one by one (token classification, question answering,
summarization): local files or a Hub dataset, every split checked with its source, one file cut at random; and the
part of a task type that has no label set (question answering, summarization)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from modelmill.data.folders import at_row
from modelmill.runtime.errors import DataError

if TYPE_CHECKING:
    import datasets

    from modelmill.config import DataSpec, ExpectationRule, PipelineSpec, ValidationSpec
    from modelmill.manifests import DataManifest, RuleResult

Check = Callable[[Any, str, str, Any], Any]  # (split's rows, split, its source, data spec) -> what it found


def read_checked(spec: DataSpec, check: Check) -> tuple[datasets.DatasetDict, str, dict[str, Any]]:
    """The train/validation/test splits, a description of the source, and what `check` found in each split as read
    (it raises a DataError naming the source, row and column of a bad row)."""
    from modelmill.data.labels import split_sources
    from modelmill.data.reading import read_files, read_hub

    if spec.hub is not None:
        source, dataset = f"hub:{spec.hub.id}", read_hub(spec)
    else:  # names: where a checkout sits is not the data
        source, dataset = ", ".join(p.name for p in spec.local_files()), read_files(spec, spec.split_files())
    sources = split_sources(spec)
    found = {split: check(part, split, sources[split], spec) for split, part in dataset.items()}
    if spec.file is not None:
        dataset = random_split(dataset["train"], spec)
    return dataset, source, found


def require_columns(part: datasets.Dataset, split: str, source: str, names: Sequence[str], reads: str) -> None:
    """A DataError naming the source, the split and the columns it lacks, and what the task type reads (`reads`)."""
    missing = [name for name in names if name not in part.column_names]
    if missing:
        raise DataError(f"{source}: no column(s) {missing} for split '{split}' (it has {part.column_names}); {reads}")


def require_text(part: datasets.Dataset, split: str, source: str, names: Sequence[str], reads: str) -> None:
    """The columns `names` exist and hold text in every row; else a DataError naming the source, row and column."""
    require_columns(part, split, source, names, reads)
    for name in names:
        for row, value in enumerate(part[name], 1):
            if not isinstance(value, str) or not value.strip():
                raise DataError(f"{at_row(source, part, row)}: column '{name}' is empty or not text")


def random_split(single: datasets.Dataset, spec: DataSpec) -> datasets.DatasetDict:
    """One file cut into train/validation/test by the declared ratios and seed (nothing to stratify by)."""
    import datasets

    holdout = spec.ratios.validation + spec.ratios.test
    first = single.train_test_split(test_size=holdout, seed=spec.ratios.seed)
    second = first["test"].train_test_split(test_size=spec.ratios.test / holdout, seed=spec.ratios.seed)
    return datasets.DatasetDict({"train": first["train"], "validation": second["train"], "test": second["test"]})


def check_local_files(read: Callable[[DataSpec], Any], spec: PipelineSpec
                      ) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """Before any work: what reading the local files would refuse (one line), the columns of each split and the
    labels found."""
    if spec.data.hub is not None:
        return [], {}, []
    try:
        dataset, labels, _, _ = read(spec.data)
    except DataError as exc:
        return [str(exc)], {}, []
    return [], {split: part.column_names for split, part in dataset.items()}, labels


class UnlabelledRows:
    """A task type without a label set: each row checked as read by its `check_split`; no built-in checks beyond
    that (the pipeline's GX rules still run), no classes to name."""

    @staticmethod
    def check_split(part: datasets.Dataset, split: str, source: str, spec: DataSpec) -> Any:
        raise NotImplementedError

    def read(self, spec: DataSpec) -> tuple[datasets.DatasetDict, list[str], dict[str, int], str]:
        dataset, source, _ = read_checked(spec, self.check_split)
        return dataset, [], {}, source

    def check_files(self, where: str, spec: PipelineSpec) -> tuple[list[str], dict[str, list[str]]]:
        return check_local_files(self.read, spec)[:2]

    def class_names(self, labels: list[str]) -> list[str]:
        return []

    def rules(self, spec: ValidationSpec, data: DataManifest, train: datasets.Dataset
              ) -> list[tuple[str, ExpectationRule]]:
        return []

    def checks(self, spec: ValidationSpec, data: DataManifest, dataset: datasets.DatasetDict) -> list[RuleResult]:
        return []
