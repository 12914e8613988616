"""A data folder read as one split: its files in name order, one table, and which file each row came from, so
that a message names a bad row as `incoming/part-2.csv: row 5`, the row a person finds in that file."""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelmill.runtime.errors import DataError
from modelmill.storage.folders import folder_files, shown
from modelmill.storage.urls import DataFolder, DataURL

if TYPE_CHECKING:
    import datasets

ORIGINS_KEY = "modelmill_row_origins"  # in the split's DatasetInfo.description, as JSON


@dataclass(frozen=True)
class RowOrigins:
    """The files a split was read from, in order, with the number of rows each holds."""

    folder: str
    files: tuple[tuple[str, int], ...]

    def place(self, row: int) -> tuple[str, int]:
        """A 1-based row of the split -> (the file as the folder names it, its 1-based row there)."""
        starts, total = [], 0
        for _, rows in self.files:
            starts.append(total)
            total += rows
        index = max(bisect_right(starts, row - 1) - 1, 0)
        return f"{self.folder}{self.files[index][0]}", row - starts[index]

    def describe(self, rows: list[int]) -> str:
        """Rows of the split as each file numbers them: 'part-1.csv row 2, part-2.csv rows 1, 4'."""
        by_file: dict[str, list[int]] = {}
        for row in rows:
            name, there = self.place(row)
            by_file.setdefault(name.removeprefix(self.folder), []).append(there)
        return ", ".join(f"{name} row{'s' if len(found) > 1 else ''} {', '.join(map(str, found))}"
                         for name, found in by_file.items())


def origins_of(part: datasets.Dataset) -> RowOrigins | None:
    """The origins `read_folder` recorded on a split as read; None for a split read from one file."""
    try:
        recorded = json.loads(part.info.description or "{}").get(ORIGINS_KEY)
    except (ValueError, AttributeError):
        return None
    if not recorded:
        return None
    return RowOrigins(recorded["folder"], tuple((name, rows) for name, rows in recorded["files"]))


def at_row(source: str, part: datasets.Dataset, row: int) -> str:
    """Where a 1-based row of a split as read is: `data.csv: row 7`, or `incoming/part-2.csv: row 3`."""
    origins = origins_of(part)
    if origins is None:
        return f"{source}: row {row}"
    name, there = origins.place(row)
    return f"{name}: row {there}"


def same_types(part: datasets.Dataset, first: datasets.Dataset, name: str, first_name: str) -> datasets.Dataset:
    """`part` with the column types of the folder's first file (a column all empty in one file, whole numbers in
    one and decimals in another); a DataError names both files and the columns when its values do not fit."""
    try:
        return part.cast(first.features)
    except (ValueError, TypeError) as exc:
        changed = [column for column in part.column_names if part.features[column] != first.features[column]]
        types = ", ".join(f"{column}: {part.features[column].dtype} vs {first.features[column].dtype}"
                          for column in changed)
        raise DataError(f"{name}: column(s) {changed} hold other types than in {first_name} ({types}: "
                        f"{type(exc).__name__}); every file of the folder needs the same types") from None


def read_folder(folder: DataFolder | DataURL, file_format: str) -> datasets.Dataset:
    """Every data file under `folder`, in name order, as one split that records which rows each file holds.
    The files must share their columns and types; a DataError names the file that does not."""
    import datasets

    from modelmill.data.files import read_file

    named = shown(folder)
    parts = {name: read_file(path, file_format) for name, path in folder_files(folder).items()}
    (first, first_part), *rest = parts.items()
    for name, part in rest:
        if part.column_names != first_part.column_names:
            raise DataError(f"{named}{name}: columns {part.column_names} differ from {named}{first}'s "
                            f"{first_part.column_names}; every file of the folder needs the same columns")
        if part.features != first_part.features:
            parts[name] = same_types(part, first_part, f"{named}{name}", f"{named}{first}")
    origins = {"folder": named, "files": [[name, part.num_rows] for name, part in parts.items()]}
    info = datasets.DatasetInfo(description=json.dumps({ORIGINS_KEY: origins}))
    return datasets.concatenate_datasets(list(parts.values()), info=info)
