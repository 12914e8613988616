"""Stage 1: read the declared data into train/validation/test splits."""

from __future__ import annotations

from pathlib import Path

import datasets
from prefect import task
from prefect.logging import get_logger, get_run_logger

from modelmill.artifacts import atomic_dir, files_fingerprint, new_output_dir, stable_hash
from modelmill.caching import LocalFilesContent, stage_policy
from modelmill.data.files import file_format, read_file
from modelmill.data.splits import grouped_split
from modelmill.data.labels import refuse_bad_texts, refuse_missing_classes, without_null_labels
from modelmill.errors import DataError
from modelmill.manifests import DataManifest
from modelmill.retry import retry_if_transient
from modelmill.spec import SPLITS, DataSpec, SplitRatios

SPLIT_COLUMN = "__modelmill_label_id"


def read_files(spec: DataSpec, files: dict[str, Path]) -> datasets.DatasetDict:
    """Read local files, one split each; an unreadable file is named with the parser's own reason."""
    for split, path in files.items():
        if not path.is_file():
            raise DataError(f"{path}: data file for split '{split}' not found")
    formats = {file_format(spec, path) for path in files.values()}
    if len(formats) > 1:
        raise DataError(f"data files mix formats {sorted(formats)}; use one format for every split")
    file_format_ = formats.pop()
    return datasets.DatasetDict({split: read_file(path, file_format_) for split, path in files.items()})


def read_hub(spec: DataSpec) -> datasets.DatasetDict:
    """Load a Hub dataset with its own splits (needs a network)."""
    assert spec.hub is not None
    loaded = datasets.load_dataset(spec.hub.id, spec.hub.config, revision=spec.hub.revision)
    missing = [split for split in SPLITS if split not in loaded]
    if missing:
        raise DataError(f"Hub dataset '{spec.hub.id}' has no split(s) {missing}; it has {list(loaded)}")
    return datasets.DatasetDict({split: loaded[split] for split in SPLITS})


def check_columns(dataset: datasets.DatasetDict, spec: DataSpec, sources: dict[str, str]) -> None:
    for split, part in dataset.items():
        for role, column in (("text_column", spec.text_column), ("label_column", spec.label_column)):
            if column not in part.column_names:
                raise DataError(
                    f"{sources[split]}: split '{split}' has no column '{column}' (data.{role}); "
                    f"columns are {part.column_names}"
                )


def clean_rows(dataset: datasets.DatasetDict, spec: DataSpec, sources: dict[str, str]) -> datasets.DatasetDict:
    """Refuse null or empty texts; refuse null labels, or drop them when `data.drop_null_labels` says so."""
    cleaned = {}
    for split, part in dataset.items():
        part, dropped = without_null_labels(part, spec.label_column, sources[split], spec.drop_null_labels)
        if dropped:
            get_logger("modelmill.data").warning(
                "%s: dropped %d row(s) with a null label (data.drop_null_labels)", sources[split], dropped
            )
        refuse_bad_texts(part, spec.text_column, sources[split])
        cleaned[split] = part
    return datasets.DatasetDict(cleaned)


def label_ids(dataset: datasets.DatasetDict, spec: DataSpec, source: str) -> tuple[list[str], dict[str, int]]:
    """Label names in id order, and the id of every raw label value (keyed by its string form).

    Names in the data map to their position in `data.labels` (or in the sorted distinct names).
    Integers in the data are ids already; `data.labels` then only names them.
    """
    train = dataset["train"]
    feature = train.features[spec.label_column]
    if isinstance(feature, datasets.ClassLabel):
        names = spec.labels or feature.names
        return list(names), {str(i): i for i in range(len(names))}
    values = set(train.unique(spec.label_column))
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        ids = sorted(values)
        if spec.labels is not None:
            return list(spec.labels), {str(i): i for i in range(len(spec.labels))}
        if ids != list(range(len(ids))):
            raise DataError(
                f"{source}: integer labels {ids} in column '{spec.label_column}' are not 0..n-1; "
                "give data.labels or use label names"
            )
        return [str(i) for i in ids], {str(i): i for i in ids}
    names = list(spec.labels) if spec.labels is not None else sorted(map(str, values))
    return names, {name: i for i, name in enumerate(names)}


def check_labels(dataset: datasets.DatasetDict, spec: DataSpec, mapping: dict[str, int], source: str) -> None:
    for split, part in dataset.items():
        unknown = sorted({str(v) for v in part.unique(spec.label_column)} - set(mapping))
        if unknown:
            raise DataError(
                f"{source}: split '{split}', column '{spec.label_column}' has labels {unknown[:10]} "
                f"outside the label set {sorted(mapping)} (data.labels)"
            )


def split_by_ratios(
    single: datasets.Dataset, ratios: SplitRatios, label_column: str, mapping: dict[str, int]
) -> datasets.DatasetDict:
    """Cut one dataset into train/validation/test, stratified by label when asked."""
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
    if spec.hub is not None:
        source = f"hub:{spec.hub.id}"
        dataset = read_hub(spec)
        sources = {split: f"{source} ({split})" for split in SPLITS}
    elif spec.files is not None:
        source = ", ".join(str(p) for p in spec.local_files())
        sources = {split: str(getattr(spec.files, split)) for split in SPLITS}
        dataset = read_files(spec, {split: getattr(spec.files, split) for split in SPLITS})
    else:
        assert spec.file is not None
        source = str(spec.file)
        sources = {split: source for split in SPLITS}
        dataset = read_files(spec, {"train": spec.file})
    check_columns(dataset, spec, sources)
    dataset = clean_rows(dataset, spec, sources)
    labels, mapping = label_ids(dataset, spec, source)
    check_labels(dataset, spec, mapping, source)
    if len(labels) < 2:
        raise DataError(f"{source}: column '{spec.label_column}' has a single label {labels}; need two or more")
    if spec.file is not None and spec.ratios.group_duplicates:
        ids = [mapping[str(value)] for value in dataset["train"][spec.label_column]]
        grouped = grouped_split(dataset["train"], spec.ratios, spec.text_column, ids)
        get_logger("modelmill.data").info(
            "%s: %d texts occur more than once (%d rows); each group was kept within one split",
            source, grouped.duplicate_groups, grouped.duplicate_rows,
        )
        dataset = grouped.parts
    elif spec.file is not None:
        dataset = split_by_ratios(dataset["train"], spec.ratios, spec.label_column, mapping)
    present = {split: {mapping[str(v)] for v in part.unique(spec.label_column)} for split, part in dataset.items()}
    refuse_missing_classes(present, labels, source)
    return dataset, labels, mapping, source


@task(
    name="load_data",
    cache_policy=stage_policy(LocalFilesContent()),
    persist_result=True,
    retry_condition_fn=retry_if_transient,
)
def load_data(spec: DataSpec) -> DataManifest:
    """Read the declared data into train/validation/test splits and save them under their cache key."""
    dataset, labels, mapping, source = read_data(spec)
    local = spec.local_files()
    content = files_fingerprint(local) if local else stable_hash([dataset[s]._fingerprint for s in SPLITS])
    key = stable_hash("load_data", spec, content)
    folder = new_output_dir("data", key)
    with atomic_dir(folder) as scratch:
        dataset.save_to_disk(str(scratch / "dataset"))
    manifest = DataManifest(
        key=key,
        path=folder / "dataset",
        fingerprint=content,
        labels=labels,
        label_ids=mapping,
        text_column=spec.text_column,
        label_column=spec.label_column,
        num_rows={split: dataset[split].num_rows for split in SPLITS},
        source=source,
    )
    get_run_logger().info("Loaded %s: %s rows, labels %s", source, manifest.num_rows, labels)
    return manifest
