"""The `data` section: where the examples come from and which columns hold text and label."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from modelmill.config.base import (
    SEED_RANGE,
    DataLocation,
    DataURL,
    Section,
    _resolve_data,
)


class SplitFiles(Section):
    """One file per split."""

    train: DataLocation = Field(description="The training split's file or folder.")
    validation: DataLocation = Field(
        description="The validation split's file (early stopping, best checkpoint, decision threshold)."
    )
    test: DataLocation = Field(description="The test split's file (metrics, thresholds and release decisions).")

    _resolve_paths = field_validator("train", "validation", "test")(_resolve_data)


class SplitRatios(Section):
    """How to cut a single file into splits; train gets what is left."""

    validation: float = Field(0.1, gt=0, lt=1, description="Share of the rows that become the validation split.")
    test: float = Field(0.1, gt=0, lt=1, description="Share of the rows that become the test split.")
    seed: int = Field(42, **SEED_RANGE, description="Seed of the cut: the same file and seed give the same splits.")
    stratify: bool = Field(True, description="Keep the label proportions in every split.")
    group_duplicates: bool = Field(
        True,
        description="Keep every copy of a text (case, whitespace and punctuation folded) in one split, so that "
        "no test text is seen in training.",
    )

    @model_validator(mode="after")
    def _leave_room_for_train(self) -> SplitRatios:
        if self.validation + self.test >= 1:
            raise ValueError(
                f"validation ({self.validation}) + test ({self.test}) must be below 1 "
                "so that rows are left for train"
            )
        return self


class HubDataset(Section):
    """A dataset on the Hugging Face Hub (needs a network)."""

    id: str = Field(description="The dataset's Hub id (`owner/name`).")
    config: str | None = Field(None, description="Its configuration (subset) name, where it has several.")
    revision: str | None = Field(None, description="A branch, tag or commit; pin one for reproducible runs.")


class DataSpec(Section):
    """Where the examples come from and which columns hold text and label."""

    files: SplitFiles | None = Field(None, description="One file per split (a local path or an s3://, gs:// "
                                     "or abfs:// URL), or a folder (`data/train/`): all its data files, in name "
                                     "order, read as one.")
    file: DataLocation | None = Field(None, description="One file or folder, cut into splits by `split`.")
    split: SplitRatios | None = Field(
        None, description="With `file`: the shares of validation and test rows cut from it."
    )
    hub: HubDataset | None = Field(None, description="A dataset on the Hub instead of files.")
    format: Literal["csv", "json", "parquet"] | None = Field(
        None, description="File format; inferred from the extension when omitted (.csv, .jsonl/.json, .parquet)."
    )
    text_column: str = Field(
        "text", min_length=1,
        description="The column of the input text (tokens for NER, question for QA, prompt for text-generation).",
    )
    label_column: str = Field(
        "label", min_length=1, description="The column of the target (label, tags, answers, summary, completion)."
    )
    labels: list[str] | None = Field(
        None,
        min_length=2,
        description="Label names in id order. Omitted: the sorted distinct labels of the train split.",
    )
    drop_null_labels: bool = Field(
        False, description="Drop rows whose label is null or empty (counted in the log) instead of failing."
    )

    _resolve_file = field_validator("file")(_resolve_data)

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if self.text_column == self.label_column:
            raise ValueError(
                f"text_column and label_column are both '{self.text_column}': the model would be trained on the "
                "answer; name the column that holds the text"
            )
        given = [name for name in ("files", "file", "hub") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of `files`, `file` or `hub` (got {', '.join(given) or 'none'})"
            )
        if self.split is not None and self.file is None:
            raise ValueError("`split` only applies to a single `file`")
        if self.labels is not None and len(set(self.labels)) != len(self.labels):
            raise ValueError(f"`labels` has duplicates: {self.labels}")
        return self

    @property
    def ratios(self) -> SplitRatios:
        """Split ratios for a single `file` (the declared ones or the defaults)."""
        return self.split or SplitRatios()

    def split_files(self) -> dict[str, Path | DataURL]:
        """The file each split is read from (a single `file` is read as train and split later)."""
        if self.files is not None:
            return {"train": self.files.train, "validation": self.files.validation, "test": self.files.test}
        return {"train": self.file} if self.file is not None else {}

    def local_files(self) -> list[Path]:
        """The files this spec reads (local paths and URLs), in a stable order."""
        if self.files is not None:
            return [self.files.train, self.files.validation, self.files.test]
        return [self.file] if self.file is not None else []
