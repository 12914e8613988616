"""Reading a classification dataset: local files or a Hub dataset into train/validation/test, with its label
names and ids, checked and split as `data` declares."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prefect.logging import get_logger

from modelmill.config import SPLITS, DataSpec, SplitRatios
from modelmill.data.facts import column, gather
from modelmill.data.files import file_format, read_file
from modelmill.data.labels import class_problems, data_problems, split_sources, without_blank_labels
from modelmill.data.splits import grouped_split
from modelmill.hub.errors import secret_safe
from modelmill.runtime.errors import DataError
from modelmill.storage.folders import shown
from modelmill.storage.urls import DataFolder

if TYPE_CHECKING:
    import datasets

SPLIT_COLUMN = "__modelmill_label_id"


def read_files(spec: DataSpec, files: dict[str, Path]) -> datasets.DatasetDict:
    """Read local files, one split each; an unreadable file is named with the parser's own reason."""
    import datasets

    for split, path in files.items():
        if isinstance(path, DataFolder) and not path.is_dir():
            raise DataError(f"{shown(path)}: data folder for split '{split}' not found")
        if isinstance(path, Path) and not isinstance(path, DataFolder) and not path.is_file():  # URLs: as read
            raise DataError(f"{path}: data file for split '{split}' not found")
    formats = {file_format(spec, path) for path in files.values()}
    if len(formats) > 1:
        raise DataError(f"data files mix formats {sorted(formats)}; use one format for every split")
    file_format_ = formats.pop()
    return datasets.DatasetDict({split: read_file(path, file_format_) for split, path in files.items()})


def read_hub(spec: DataSpec) -> datasets.DatasetDict:
    """Load a Hub dataset with its own splits (needs a network)."""
    import datasets

    assert spec.hub is not None
    from huggingface_hub import constants

    with secret_safe(constants.ENDPOINT, spec.hub.id):
        loaded = datasets.load_dataset(spec.hub.id, spec.hub.config, revision=spec.hub.revision)
    missing = [split for split in SPLITS if split not in loaded]
    if missing:
        raise DataError(f"Hub dataset '{spec.hub.id}' has no split(s) {missing}; it has {list(loaded)}")
    return datasets.DatasetDict({split: loaded[split] for split in SPLITS})


def split_by_ratios(
    single: datasets.Dataset, ratios: SplitRatios, label_column: str, mapping: dict[str, int]
) -> datasets.DatasetDict:
    """Cut one dataset into train/validation/test, stratified by label when asked."""
    import datasets

    stratify = None
    if ratios.stratify:
        single = single.map(
            lambda batch: {SPLIT_COLUMN: [mapping[str(v)] for v in batch[label_column]]}, batched=True
        ).cast_column(SPLIT_COLUMN, datasets.ClassLabel(num_classes=len(mapping)))
        stratify = SPLIT_COLUMN
    holdout = ratios.validation + ratios.test
    try:
        first = single.train_test_split(test_size=holdout, seed=ratios.seed, stratify_by_column=stratify)
        second = first["test"].train_test_split(
            test_size=ratios.test / holdout, seed=ratios.seed, stratify_by_column=stratify
        )
    except ValueError as exc:
        raise DataError(
            f"cannot split {single.num_rows} rows into train/validation/test "
            f"(data.split, stratified by '{label_column}': {ratios.stratify}): {exc}"
        ) from None
    parts = {"train": first["train"], "validation": second["train"], "test": second["test"]}
    if stratify:
        parts = {split: part.remove_columns(SPLIT_COLUMN) for split, part in parts.items()}
    return datasets.DatasetDict(parts)


def read_data(spec: DataSpec) -> tuple[datasets.DatasetDict, list[str], dict[str, int], str]:
    """Splits with every column as read, label names, raw label -> id, and a description of the source."""
    import datasets

    sources = split_sources(spec)
    if spec.hub is not None:
        source, dataset = f"hub:{spec.hub.id}", read_hub(spec)
    else:
        source = ", ".join(p.name for p in spec.local_files())  # names: where a checkout sits is not the data
        dataset = read_files(spec, spec.split_files())
    facts = [gather(dataset[split], split, sources[split], spec.text_column, spec.label_column) for split in dataset]
    labels, mapping, problems = data_problems(facts, spec)
    if problems:
        raise DataError(problems[0])
    if spec.drop_null_labels:
        dataset = datasets.DatasetDict({split: drop_null_labels(part, spec, sources[split])
                                        for split, part in dataset.items()})
    if spec.file is not None and spec.ratios.group_duplicates:
        ids = [mapping[str(value)] for value in column(dataset["train"], spec.label_column)]
        grouped = grouped_split(dataset["train"], spec.ratios, spec.text_column, ids)
        get_logger("modelmill.data").info(
            "%s: %d texts occur more than once (%d rows); each group was kept within one split",
            source, grouped.duplicate_groups, grouped.duplicate_rows,
        )
        dataset = grouped.parts
    elif spec.file is not None:
        dataset = split_by_ratios(dataset["train"], spec.ratios, spec.label_column, mapping)
    if spec.file is not None:
        present = {split: {mapping[str(v)] for v in part.unique(spec.label_column)} for split, part in dataset.items()}
        problems = class_problems(present, labels, {split: source for split in SPLITS})
        if problems:
            raise DataError(problems[0])
    return dataset, labels, mapping, source


def drop_null_labels(part: datasets.Dataset, spec: DataSpec, source: str) -> datasets.Dataset:
    """`part` without its rows whose label is null or empty, as `data.drop_null_labels` asks; counted in the log."""
    kept = without_blank_labels(part, spec.label_column)
    if kept.num_rows < part.num_rows:
        get_logger("modelmill.data").warning(
            "%s: dropped %d row(s) with a null label (data.drop_null_labels)", source, part.num_rows - kept.num_rows
        )
    return kept
