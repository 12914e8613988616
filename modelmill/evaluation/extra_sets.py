"""Extra evaluation sets: files with the data's columns, read and checked like the data, labelled like train."""

from __future__ import annotations

import datasets

from modelmill.data.files import file_format, read_file
from modelmill.data.labels import refuse_bad_texts, without_null_labels
from modelmill.errors import DataError
from modelmill.manifests import DataManifest
from modelmill.spec import EvaluationSet


def read_evaluation_set(name: str, spec: EvaluationSet, data: DataManifest) -> datasets.Dataset:
    """The set's rows; a missing column, an empty text or a label the model does not know names the file."""
    where = f"evaluate.sets.{name}"
    path = spec.file
    rows = read_file(path, file_format(spec, path))
    for role, column in (("text_column", data.text_column), ("label_column", data.label_column)):
        if column not in rows.column_names:
            raise DataError(f"{path}: no column '{column}' ({where}; data.{role}); columns are {rows.column_names}")
    refuse_bad_texts(rows, data.text_column, f"{path} ({where})")
    without_null_labels(rows, data.label_column, f"{path} ({where})", drop=False)
    unknown = sorted({str(value) for value in rows.unique(data.label_column)} - set(data.label_ids))
    if unknown:
        raise DataError(
            f"{path} ({where}): column '{data.label_column}' has labels {unknown[:10]} the model does not know; "
            f"its labels are {sorted(data.label_ids)}"
        )
    return rows
