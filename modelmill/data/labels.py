"""The refusals that stop a silently wrong model, from the facts of each split: missing columns, null or empty or
non-text cells, labels outside the label set or written two ways, a single class. `modelmill check` lists them all
before any work; the load stage raises the first; each is the same sentence in both."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from modelmill.config import SPLITS, DataSpec
from modelmill.data.facts import BATCH_ROWS, MAX_LABELS, SplitFacts, blank_rows
from modelmill.storage.folders import shown
from modelmill.storage.urls import is_data_folder

if TYPE_CHECKING:
    import datasets

ROLES = ("text_column", "label_column")


class Columns(Protocol):
    """Where text and label are: a `DataSpec`, or the `DataManifest` of data already loaded."""

    text_column: str
    label_column: str


def column_problems(facts: SplitFacts, spec: Columns, where: str = "") -> list[str]:
    """A column the spec names that the file does not have (one line when the header reads as one column that
    holds another separator)."""
    missing = [role for role in ROLES if getattr(spec, role) not in facts.columns]
    [single] = facts.columns if len(facts.columns) == 1 else [None]
    separator = next((sep for sep in (";", "\t", "|") if single is not None and sep in single), None)
    if missing and separator is not None:
        return [f"{facts.source}: the header reads as one column {single!r}: is the file separated by {separator!r}? "
                f"modelmill reads CSV separated by commas (line 1; re-save it with commas)"]
    return [
        f"{facts.source}: no column '{getattr(spec, role)}' (data.{role}){where}; columns are {facts.columns}"
        for role in missing
    ]


def row_problems(facts: SplitFacts, spec: Columns, drop_null_labels: bool = False, where: str = "") -> list[str]:
    """Texts that are not text, or null or empty; labels that are lists, or null (unless they are to be dropped)."""
    problems = []
    text, label = spec.text_column, spec.label_column
    if facts.header_rows.count:
        problems.append(f"{facts.source}: {facts.header_rows.describe(facts.origins)} repeat the header ({text}, "
                        f"{label}){where}: files joined with their headers? Remove those rows")
    if facts.text_type is not None:
        problems.append(f"{facts.source}: column '{text}' (data.text_column){where} holds {facts.text_type}, not "
                        "text; every row needs one string")
    elif facts.blank_texts.count:
        problems.append(f"{facts.source}: column '{text}' (data.text_column){where} is null or empty in "
                        f"{facts.blank_texts.describe(facts.origins)}; fix or remove those rows")
    if facts.label_type is not None:
        problems.append(f"{facts.source}: column '{label}' (data.label_column){where} holds {facts.label_type}; a "
                        "label is one plain value per row, of one type")
    elif facts.blank_labels.count and not drop_null_labels:
        problems.append(f"{facts.source}: column '{label}' (data.label_column){where} is null or empty in "
                        f"{facts.blank_labels.describe(facts.origins)}; fix them, or set data.drop_null_labels: true "
                        "to train without those rows")
    if facts.too_many_labels:
        problems.append(f"{facts.source}: column '{label}' (data.label_column){where} has more than {MAX_LABELS} "
                        "distinct labels: is it the column that holds the label?")
    return problems


def label_ids(train: SplitFacts, spec: DataSpec) -> tuple[list[str], dict[str, int], list[str]]:
    """Label names in id order, the id of every raw label value (keyed by its string form), and problems.

    Names in the data map to their position in `data.labels` (or in the sorted distinct names). Integers in the
    data are ids already; `data.labels` then only names them.
    """
    declared = list(spec.labels) if spec.labels is not None else None
    if train.label_names is not None:
        names = declared or train.label_names
        return names, {str(i): i for i in range(len(names))}, []
    values = set(train.labels)
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        ids = sorted(values)
        if declared is not None:
            return declared, {str(i): i for i in range(len(declared))}, []
        if ids != list(range(len(ids))):
            return [], {}, [f"{train.source}: integer labels {ids[:10]} in column '{spec.label_column}' are not "
                            "0..n-1; give data.labels or use label names"]
        return [str(i) for i in ids], {str(i): i for i in ids}, []
    names = declared if declared is not None else sorted(map(str, values))
    return names, {name: i for i, name in enumerate(names)}, []


def variant_problems(splits: list[SplitFacts], column: str) -> tuple[list[str], set[str]]:
    """Label values that differ only in case or surrounding spaces ('Positive', 'positive '): one class, written
    two ways, would silently become two. Each file holding a less common spelling is named; the second value is
    every such spelling."""
    rows: dict[str, dict[str, int]] = {}
    for facts in splits:
        for value, count in facts.labels.items():
            if isinstance(value, str):
                spellings = rows.setdefault(value.strip().casefold(), {})
                spellings[value] = spellings.get(value, 0) + count
    problems, odd = [], set()
    for spellings in (group for group in rows.values() if len(group) > 1):
        usual = max(spellings, key=lambda value: (spellings[value], value))
        odd |= set(spellings) - {usual}
        for source in dict.fromkeys(f.source for f in splits if set(f.labels) & (set(spellings) - {usual})):
            problems.append(f"{source}: column '{column}' has labels that differ only in case or spaces: "
                            f"{sorted(spellings)}; write each class one way (most rows say {usual!r})")
    return problems, odd


def kinds_of(values: Iterable[object]) -> str:
    """'integers' or 'names': how a split writes its labels."""
    return "integers" if all(isinstance(v, int) and not isinstance(v, bool) for v in values) else "names"


def label_problems(splits: list[SplitFacts], spec: DataSpec) -> tuple[list[str], dict[str, int], list[str]]:
    """The label set from the train split (the first of `splits`), and every problem with the labels of all."""
    problems, variants = variant_problems(splits, spec.label_column)
    labels, mapping, unusable = label_ids(splits[0], spec)
    problems += unusable
    if unusable:
        return labels, mapping, problems
    if len(labels) < 2:  # the other splits' labels are "unknown" only because of this
        return labels, mapping, [f"{splits[0].source}: column '{spec.label_column}' has a single label {labels}; need "
                                 "two or more classes in the train split", *problems]
    train_kind = kinds_of(splits[0].labels)
    for facts in splits:
        repeated_header = {spec.label_column} if facts.header_rows.count else set()  # said as such
        unknown = sorted({str(value) for value in facts.labels if value not in variants} - set(mapping)
                         - repeated_header)
        if unknown and facts.labels and kinds_of(facts.labels) != train_kind:
            problems.append(
                f"{facts.source}: split '{facts.split}', column '{spec.label_column}' writes its labels as "
                f"{kinds_of(facts.labels)} {unknown[:10]} where the train split writes {train_kind} "
                f"{sorted(map(str, splits[0].labels))[:10]}: write them one way in every split"
            )
        elif unknown:
            problems.append(
                f"{facts.source}: split '{facts.split}', column '{spec.label_column}' has labels {unknown[:10]} "
                f"outside the label set {sorted(mapping)} "
                f"({'data.labels' if spec.labels is not None else 'the labels of the train split'})"
            )
    return labels, mapping, problems


def class_problems(present: dict[str, set[int]], labels: list[str], sources: dict[str, str]) -> list[str]:
    """Every class must be in train, and every split must hold at least two classes."""
    problems = []
    absent = [labels[i] for i in range(len(labels)) if i not in present.get("train", set())]
    if absent:
        problems.append(
            f"{sources['train']}: classes {absent} of data.labels never occur in the train split; the model cannot "
            "learn them: add examples or remove them from data.labels"
        )
    for split, ids in present.items():
        if len(ids) < 2:
            only = [labels[i] for i in sorted(ids)]
            problems.append(
                f"{sources[split]}: split '{split}' holds a single class {only}; a model or a metric on it means "
                "nothing: give every split at least two classes"
            )
    return problems


def present_classes(facts: SplitFacts, mapping: dict[str, int]) -> set[int]:
    return {mapping[str(value)] for value in facts.labels if str(value) in mapping}


def without_blank_labels(part: datasets.Dataset, column: str) -> datasets.Dataset:
    """`part` without the rows whose label is null or empty."""
    blank: set[int] = set()
    offset = 0
    for batch in part.data.to_batches(max_chunksize=BATCH_ROWS):
        blank.update(row - 1 for row in blank_rows(batch.column(column), offset))
        offset += batch.num_rows
    return part.select([row for row in range(part.num_rows) if row not in blank])


def split_sources(spec: DataSpec) -> dict[str, str]:
    """What each split is read from, as messages name it: a file, or the Hub dataset and split (a single `file`
    is read as `train` and split later)."""
    if spec.hub is not None:
        return {split: f"hub:{spec.hub.id} ({split})" for split in SPLITS}
    if spec.files is not None:
        return {split: named(getattr(spec.files, split)) for split in SPLITS}
    return {"train": named(spec.file)}


def named(location: object) -> str:
    """A data file as messages name it; a folder with its trailing slash."""
    return shown(location) if is_data_folder(location) else str(location)  # type: ignore[arg-type]


def data_problems(splits: list[SplitFacts], spec: DataSpec) -> tuple[list[str], dict[str, int], list[str]]:
    """Label names, raw label -> id, and every reason to refuse the splits as read: columns, cells, labels, and
    (for one file per split) the classes of each split. A single file's splits are checked once it is split."""
    problems = [problem for split in splits for problem in column_problems(split, spec)]
    if problems:
        return [], {}, problems
    problems = [problem for split in splits for problem in row_problems(split, spec, spec.drop_null_labels)]
    labels, mapping, found = label_problems(splits, spec)
    problems += found
    if not problems and spec.file is None:
        present = {split.split: present_classes(split, mapping) for split in splits}
        problems += class_problems(present, labels, {split.split: split.source for split in splits})
    return labels, mapping, problems
