"""Stage 1: read the declared data into train/validation/test splits."""

from __future__ import annotations

from prefect import task
from prefect.logging import get_run_logger

from modelmill.config import SPLITS, DataSpec
from modelmill.data.reading import read_data
from modelmill.manifests import DataManifest
from modelmill.observe.timing import timed
from modelmill.runtime.retry import retry_if_transient
from modelmill.storage.artifacts import atomic_dir, files_fingerprint, new_output_dir, stable_hash
from modelmill.storage.caching import STAGE
from modelmill.storage.remote_files import local_file
from modelmill.task_types import TEXT_CLASSIFICATION, task_type

__all__ = ["load_data", "read_data"]


@task(
    name="load_data",
    cache_policy=STAGE,
    persist_result=True,
    retry_condition_fn=retry_if_transient,
)
@timed("load_data")
def load_data(spec: DataSpec, task: str = TEXT_CLASSIFICATION) -> DataManifest:
    """Read the declared data into train/validation/test splits, as the pipeline's task type reads it, and save
    them under their cache key."""
    dataset, labels, mapping, source = task_type(task).read(spec)
    local = spec.local_files()
    fingerprints = [dataset[split]._fingerprint for split in SPLITS]
    content = files_fingerprint([local_file(path) for path in local]) if local else stable_hash(fingerprints)
    key = stable_hash("load_data", spec, content, *([task] if task != TEXT_CLASSIFICATION else []))
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
    )
    get_run_logger().info("Loaded %s: %s rows, labels %s", source, manifest.num_rows, labels)
    return manifest
