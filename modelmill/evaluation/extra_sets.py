"""Extra evaluation sets: files with the data's columns, read and checked like the data, labelled like train."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelmill.config import EvaluationSet
from modelmill.data.facts import gather
from modelmill.data.files import file_format, read_file
from modelmill.data.labels import column_problems, named, row_problems
from modelmill.manifests import DataManifest
from modelmill.runtime.errors import DataError

if TYPE_CHECKING:
    import datasets


def read_evaluation_set(name: str, spec: EvaluationSet, data: DataManifest) -> datasets.Dataset:
    """The set's rows; a missing column, an empty text or a label the model does not know names the file."""
    where = f" (evaluate.sets.{name})"
    rows = read_file(spec.file, file_format(spec, spec.file))
    facts = gather(rows, name, named(spec.file), data.text_column, data.label_column)
    problems = column_problems(facts, data, where) or row_problems(facts, data, where=where)
    if problems:
        raise DataError(problems[0])
    unknown = sorted({str(value) for value in facts.labels} - set(data.label_ids))
    if unknown:
        raise DataError(
            f"{spec.file}{where}: column '{data.label_column}' has labels {unknown[:10]} the model does not know; "
            f"its labels are {sorted(data.label_ids)}"
        )
    return rows
