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
from modelmill.task_types import PREFERENCE, TEXT_GENERATION, task_type
from modelmill.task_types.text_generation import CUT
from modelmill.training.loading import load_tokenizer


@task(name="tokenize", cache_policy=STAGE, persist_result=True, retry_condition_fn=retry_if_transient)
@timed("tokenize")
def tokenize(data: DataManifest, spec: TokenizerSpec, model: ModelSpec) -> TokenizedManifest:
    """Tokenize the splits with the pipeline's tokenizer and save them to disk."""
    ref = spec.name_or_path or model.name_or_path
    tokenizer = load_tokenizer(ref, model)
    if spec.chat_template is not None:  # the file's template, in the spec hash and this key by its content
        tokenizer.chat_template = spec.chat_template.read_text(encoding="utf-8")
    import datasets

    splits = datasets.load_from_disk(str(local_copy(data.path)))
    tokenized = task_type(data.task).tokenize(splits, tokenizer, data, spec)
    key = stable_hash("tokenize", data.key, spec, model)
    folder = new_output_dir("tokenized", key)
    with atomic_dir(folder) as scratch:
        tokenized.save_to_disk(str(scratch / "dataset"))
    logger = get_run_logger()
    logger.info("Tokenized %s with %s (max_length=%d)", dict(tokenized.num_rows), ref, spec.max_length)
    for split, part in tokenized.items():
        if CUT in part.column_names and (cut := sum(part[CUT])):
            logger.warning("%d of %d %s rows are longer than tokenizer.max_length (%d tokens) and were cut to it "
                           "(tokenizer.too_long: refuse stops instead)", cut, part.num_rows, split, spec.max_length)
    generative = data.task in (TEXT_GENERATION, PREFERENCE)  # published with the template it trained with
    return TokenizedManifest(
        key=key, path=folder / "dataset", tokenizer=ref, labels=data.labels, max_length=spec.max_length, task=data.task,
        chat_template=tokenizer.chat_template if generative else None,
    )
