"""Stage 3: tokenize every split (truncated, unpadded) and save it under its cache key."""

from __future__ import annotations

from prefect import task
from prefect.logging import get_run_logger

from modelmill.config import ModelSpec, TokenizerSpec
from modelmill.manifests import DataManifest, TokenizedManifest
from modelmill.observe.timing import timed
from modelmill.runtime.retry import retry_if_transient
from modelmill.storage.artifacts import atomic_dir, new_output_dir, stable_hash
from modelmill.storage.caching import STAGE
from modelmill.storage.home import local_copy
from modelmill.task_types import task_type
from modelmill.training.loading import load_tokenizer


@task(name="tokenize", cache_policy=STAGE, persist_result=True, retry_condition_fn=retry_if_transient)
@timed("tokenize")
def tokenize(data: DataManifest, spec: TokenizerSpec, model: ModelSpec) -> TokenizedManifest:
    """Tokenize the splits with the pipeline's tokenizer and save them to disk."""
    ref = spec.name_or_path or model.name_or_path
    tokenizer = load_tokenizer(ref, model)
    import datasets

    splits = datasets.load_from_disk(str(local_copy(data.path)))
    tokenized = task_type(data.task).tokenize(splits, tokenizer, data, spec)
    key = stable_hash("tokenize", data.key, spec, model)
    folder = new_output_dir("tokenized", key)
    with atomic_dir(folder) as scratch:
        tokenized.save_to_disk(str(scratch / "dataset"))
    get_run_logger().info("Tokenized %s with %s (max_length=%d)", dict(tokenized.num_rows), ref, spec.max_length)
    return TokenizedManifest(
        key=key, path=folder / "dataset", tokenizer=ref, labels=data.labels, max_length=spec.max_length, task=data.task
    )
