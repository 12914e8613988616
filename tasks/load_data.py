"""Stage 1: read the declared data into train/validation/test splits."""

from __future__ import annotations

from typing import Literal

from prefect import task
from prefect.logging import get_run_logger

from modelmill.checks.overlap import dataset_hashes, dropped_note, rows_to_drop
from modelmill.config import SPLITS, DataSpec
from modelmill.data.identity import data_identity, source_identities
from modelmill.data.reading import read_data
from modelmill.manifests import DataManifest
from modelmill.observe.timing import timed
from modelmill.runtime.retry import retry_if_transient
from modelmill.storage.artifacts import atomic_dir, new_output_dir, stable_hash
from modelmill.storage.caching import STAGE
from modelmill.task_types import TEXT_CLASSIFICATION, task_type

__all__ = ["load_data", "read_data"]


@task(
    name="load_data",
    cache_policy=STAGE,
    persist_result=True,
    retry_condition_fn=retry_if_transient,
)
@timed("load_data")
def load_data(spec: DataSpec, task: str = TEXT_CLASSIFICATION, drop_overlap: Literal["exact", "normalized"] | None = None
              ) -> DataManifest:
    """Read the declared data into train/validation/test splits, as the pipeline's task type reads it, and save
    them under their cache key (`drop_overlap`: the rows of validation and test that repeat a text of an earlier
    split, compared that way, are dropped and counted)."""
    dataset, labels, mapping, source = task_type(task).read(spec)
    fingerprints = [dataset[split]._fingerprint for split in SPLITS]  # a Hub dataset: as `datasets` read it
    content = data_identity(source_identities(spec)) if spec.local_files() else stable_hash(fingerprints)
    key = stable_hash("load_data", spec, content, *([task] if task != TEXT_CLASSIFICATION else []),
                      *([drop_overlap] if drop_overlap else []))
    dropped = {}
    if drop_overlap is not None:
        drop = rows_to_drop(drop_overlap == "normalized", dataset_hashes(dataset, spec.text_column))
        for split, rows in drop.items():
            dataset[split] = dataset[split].select(sorted(set(range(dataset[split].num_rows)) - set(rows)))
        dropped = {split: len(rows) for split, rows in drop.items()}
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
        task=task,
        dropped=dropped,
    )
    logger = get_run_logger()
    logger.info("Loaded %s: %s rows, labels %s", source, manifest.num_rows, labels)
    if dropped:
        logger.warning("Overlap: %s", dropped_note(dropped))
    return manifest
