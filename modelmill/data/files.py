"""Read one local data file, with errors that name the file and the library's own cause (line, byte, encoding)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from modelmill.config import DataSpec, EvaluationSet
from modelmill.data.encoding import NEWLINE, file_chunks, text_problem
from modelmill.runtime.errors import DataError
from modelmill.storage.folders import folder_files, shown
from modelmill.storage.urls import DataURL, is_data_folder

if TYPE_CHECKING:
    import datasets

TEXT_FORMATS = ("csv", "json")
FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def file_format(spec: DataSpec | EvaluationSet, path: Path | DataURL) -> str:
    """The `datasets` builder for a file or a folder: the declared format or one from the extensions."""
    if spec.format:
        return spec.format
    if is_data_folder(path):
        found = {name: FORMATS[Path(name).suffix.lower()] for name in folder_files(path)}
        if len(set(found.values())) > 1:
            first = {fmt: name for name, fmt in reversed(found.items())}  # the first file of each format
            mixed = ", ".join(f"{fmt}: {name}" for fmt, name in sorted(first.items()))
            raise DataError(f"{shown(path)}: the folder mixes formats ({mixed}); keep one format in it, or set "
                            "data.format")
        return next(iter(found.values()))
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise DataError(
            f"{path}: cannot tell the format from '{path.suffix}'; set data.format to csv, json or parquet"
        ) from None


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of a chain (`datasets` wraps parser errors in generic ones)."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


def check_text_file(path: Path, needs_rows: bool, shown: str | None = None) -> None:
    """A CSV or JSON Lines file must exist, be UTF-8 text, and not be empty (a CSV: a header and a row); read as a
    stream, so that an 8 GiB file costs a megabyte of memory. Messages name it as `shown` (a URL it came from)."""
    name = shown or path
    if not path.is_file():
        raise DataError(f"{name}: file not found")
    lines = 0
    pending = False  # the line the last chunk ended in has content

    def counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
        nonlocal lines, pending
        for chunk in chunks:
            if lines < 2:
                for segment in chunk.split(NEWLINE)[:-1]:
                    lines += pending or bool(segment.strip())
                    pending = False
                pending = pending or bool(chunk.rsplit(NEWLINE, 1)[-1].strip())
            yield chunk

    if where := text_problem(counted(file_chunks(path))):
        raise DataError(
            f"{name}: not UTF-8 (expected UTF-8): {where}; re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        )
    lines += pending
    if lines == 0:
        raise DataError(f"{name}: the file is empty")
    if needs_rows and lines < 2:
        raise DataError(f"{name}: the file has a header but no data rows")
    if needs_rows and (blank := blank_csv_lines(path)):
        shown = ", ".join(map(str, blank[:5])) + (", …" if len(blank) > 5 else "")
        raise DataError(f"{name}: {len(blank)} blank line(s) between rows (line {shown}): a CSV reader skips them, "
                        "so the rows would not be the file's lines; remove them")


def blank_csv_lines(path: Path) -> list[int]:
    """Lines of a CSV file that are empty or spaces only, before its last row (a blank line inside a quoted text
    is part of that text: the CSV reader decides, and only runs when a blank line is there at all)."""
    import csv

    with path.open("rb") as raw:
        if not any(not line.strip() for line in raw):
            return []
    blank, last_row = [], 0
    with path.open(encoding="utf-8", newline="") as text:
        reader = csv.reader(text)
        for row in reader:
            if all(not cell.strip() for cell in row):
                blank.append(reader.line_num)
            else:
                last_row = reader.line_num
    return [line for line in blank if line < last_row]


def read_file(path: Path | DataURL, file_format: str) -> datasets.Dataset:
    """One file (a local path, or a URL read through a local copy) as a `Dataset`; a DataError names the file
    (as the YAML names it) and why it cannot be read. A folder is read as all its data files (`read_folder`)."""
    if is_data_folder(path):
        from modelmill.data.folders import read_folder

        return read_folder(path, file_format)  # type: ignore[arg-type]
    local = path
    if isinstance(path, DataURL):
        from modelmill.storage.remote_files import fetch

        local = fetch(path)
    if file_format in TEXT_FORMATS:
        check_text_file(local, needs_rows=file_format == "csv", shown=str(path))
    elif not local.is_file():
        raise DataError(f"{path}: file not found")
    import datasets

    try:
        return datasets.load_dataset(file_format, data_files={"train": str(local)}, split="train")
    except Exception as exc:  # datasets wraps parser errors in DatasetGenerationError; report the real one
        cause = root_cause(exc)
        line = json_lines_problem(local) if file_format == "json" else None
        reason = line or f"{type(cause).__name__}: {cause}"
        raise DataError(f"{path}: cannot read as {file_format} (data.format): {reason}") from None


def json_lines_problem(path: Path) -> str | None:
    """The first line of a JSON Lines file that is not a JSON object (Arrow names a byte position or a 0-based
    row instead): 'line 7 is not valid JSON ...'. None when every line is one (a single JSON document, say)."""
    import json

    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                return (f"line {number} is not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno}): a "
                        "truncated row?")
            if not isinstance(row, dict):
                return f"line {number} is a JSON {type(row).__name__}, not an object: one {{...}} row per line"
    return None
