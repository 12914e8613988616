"""What the data checks need to know of one split, gathered in one pass over its Arrow record batches: bounded
memory whatever the file's size, and the same facts for `modelmill check` and for the load stage, so both refuse
a file with the same message."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datasets

    from modelmill.data.folders import RowOrigins

SHOWN_ROWS = 5
MAX_LABELS = 10_000  # distinct label values kept: a text column named as the label column has one per row
BATCH_ROWS = 65_536
BLANK = r"^\s*$"


@dataclass
class RowSample:
    """Offending rows: how many, and the first few (1-based, the header excluded)."""

    count: int = 0
    first: list[int] = field(default_factory=list)

    def add(self, rows: list[int]) -> None:
        self.count += len(rows)
        self.first += rows[: SHOWN_ROWS - len(self.first)]

    def describe(self, origins: RowOrigins | None = None) -> str:
        """'3 row(s) (2, 5, 9; …)', the rows of a folder's split as each file numbers them (`origins`)."""
        shown = origins.describe(self.first) if origins else ", ".join(map(str, self.first))
        return f"{self.count} row(s) ({shown}{', …' if self.count > SHOWN_ROWS else ''}; 1-based, header excluded)"


@dataclass
class SplitFacts:
    """One split as read: its columns, blank or non-text cells, and its label values with their counts."""

    split: str
    source: str
    columns: list[str]
    num_rows: int = 0
    text_type: str | None = None  # what the column holds when it is not text ('lists', 'numbers')
    label_type: str | None = None  # what the column holds when its values cannot be labels ('lists')
    header_rows: RowSample = field(default_factory=RowSample)  # rows that repeat the header (files joined whole)
    blank_texts: RowSample = field(default_factory=RowSample)
    blank_labels: RowSample = field(default_factory=RowSample)
    labels: Counter = field(default_factory=Counter)  # label value -> rows, blanks left out
    label_names: list[str] | None = None  # a ClassLabel column's names
    too_many_labels: bool = False
    origins: RowOrigins | None = None  # the files of a folder's split, to name its rows as each file numbers them


def _is_text(arrow_type: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _is_plain(arrow_type: Any) -> bool:
    """A type whose values can each be a label: text, a number, a boolean."""
    import pyarrow as pa

    return _is_text(arrow_type) or pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or (
        pa.types.is_boolean(arrow_type))


def kind_of(arrow_type: Any) -> str:
    """An Arrow type as a person would call its values: 'lists', 'numbers', 'values of mixed types'."""
    import pyarrow as pa

    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        return "lists"
    if pa.types.is_struct(arrow_type) or pa.types.is_map(arrow_type):
        return "mappings"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numbers"
    if pa.types.is_boolean(arrow_type):
        return "booleans"
    if isinstance(arrow_type, pa.ExtensionType) or str(arrow_type).startswith("extension<arrow.json"):
        return "values of mixed types (numbers and text, say)"
    return f"{arrow_type} values"


def blank_rows(column: Any, offset: int) -> list[int]:
    """1-based rows of null (and, for text, empty or whitespace-only) cells in one batch's column."""
    import pyarrow.compute as pc

    blank = pc.is_null(column)
    if _is_text(column.type):
        blank = pc.or_(blank, pc.fill_null(pc.match_substring_regex(column, BLANK), False))
    return [offset + index + 1 for index in pc.indices_nonzero(blank).to_pylist()]


def header_rows(batch: Any, names: list[str], offset: int) -> list[int]:
    """1-based rows whose every named text cell holds its own column's name: the header again, mid-file."""
    import pyarrow.compute as pc

    present = [name for name in names if name in batch.schema.names]
    if not present or not all(_is_text(batch.schema.field(name).type) for name in present):
        return []
    same = [pc.fill_null(pc.equal(batch.column(name), name), False) for name in present]
    repeated = same[0]
    for other in same[1:]:
        repeated = pc.and_(repeated, other)
    return [offset + index + 1 for index in pc.indices_nonzero(repeated).to_pylist()]


def column(part: datasets.Dataset, name: str) -> list[Any]:
    """A column's values as a list, read in one slice: `part[name]` in datasets 5 is a lazy column that yields
    its values a row at a time, ten times slower on 100 000 rows."""
    return part.select_columns([name])[:][name]


def column_batches(part: datasets.Dataset, name: str, size: int = BATCH_ROWS) -> Iterator[list[Any]]:
    """A column's values a batch at a time: bounded memory for the largest split."""
    only = part.select_columns([name])
    for start in range(0, only.num_rows, size):
        yield only[start:start + size][name]


def gather(part: datasets.Dataset, split: str, source: str, text_column: str, label_column: str) -> SplitFacts:
    """The facts of `part` (read straight from a file: no selection applied), a batch of rows at a time."""
    import datasets
    import pyarrow.compute as pc

    from modelmill.data.folders import origins_of

    facts = SplitFacts(split=split, source=source, columns=list(part.column_names), origins=origins_of(part))
    feature = part.features.get(label_column)
    if isinstance(feature, datasets.ClassLabel):
        facts.label_names = list(feature.names)
    schema = part.data.schema
    if text_column in schema.names and not _is_text(schema.field(text_column).type):
        facts.text_type = kind_of(schema.field(text_column).type)
    if label_column in schema.names and not (
        _is_plain(schema.field(label_column).type) or facts.label_names is not None
    ):
        facts.label_type = kind_of(schema.field(label_column).type)
    offset = 0
    for batch in part.data.to_batches(max_chunksize=BATCH_ROWS):
        if text_column in schema.names and facts.text_type is None:
            facts.blank_texts.add(blank_rows(batch.column(text_column), offset))
            facts.header_rows.add(header_rows(batch, [text_column, label_column], offset))
        if label_column in schema.names and facts.label_type is None:
            column = batch.column(label_column)
            facts.blank_labels.add(blank_rows(column, offset))
            if not facts.too_many_labels:
                kept = column.filter(pc.invert(pc.is_null(column)))
                counts = pc.value_counts(kept).to_pylist()
                facts.labels.update({entry["values"]: entry["counts"] for entry in counts})
                facts.too_many_labels = len(facts.labels) > MAX_LABELS
        offset += batch.num_rows
    facts.num_rows = offset
    if facts.label_type is None and label_column in schema.names and _is_text(schema.field(label_column).type):
        for value in [value for value in facts.labels if not str(value).strip()]:
            del facts.labels[value]  # blank labels are counted in blank_labels
    return facts
