"""Stage 7: upload model, tokenizer and model card to the Hub in one commit (a dry run without a token)."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import runtime, task
from prefect.logging import get_run_logger

from modelmill.config import PushSpec
from modelmill.evaluation.figures import saved_figures
from modelmill.hub.client import hub_api
from modelmill.hub.head import HubHead
from modelmill.hub.model_card import FIGURES_FOLDER, decision_config, render_model_card
from modelmill.hub.releases import publish_release
from modelmill.manifests import (
    DataManifest,
    EvaluationReport,
    ModelManifest,
    PushResult,
    SearchReport,
    ValidationReport,
)
from modelmill.observe.release_history import FIGURE, HistoryRow, earlier_releases, history, history_png
from modelmill.observe.reporting import metrics_table
from modelmill.observe.timing import timed
from modelmill.runtime.retry import retry_if_transient
from modelmill.storage.artifacts import atomic_dir, files_fingerprint, link_tree, new_output_dir, stable_hash
from modelmill.storage.caching import HubTokenPresence, stage_policy
from modelmill.storage.home import local_copy
from modelmill.storage.secrets import push_credentials
from modelmill.training.adapters import RECORD, is_adapter, merged_folder, public_record

NOT_UPLOADED = ("training_args.bin",)  # a pickle of local training state: not for the Hub


def stage_upload(model: ModelManifest, card: str, folder: Path, evaluation: EvaluationReport,
                 earlier: list[HistoryRow] | None = None) -> list[str]:
    """Fill `folder` with the model (hard links to the trained files: no copy of the weights; an adapter alone, or
    merged into its base with `adapter.merge`), its evaluation figures and README.md, with the decision threshold
    (if any) in config.json (an adapter's: in its record); return the relative file names."""
    trained = local_copy(model.path)
    merge = model.adapter is not None and model.adapter.merge
    link_tree(merged_folder(trained) if merge else trained, folder, skip=NOT_UPLOADED)
    if is_adapter(folder):
        public_record(folder)
    if cutoff := decision_config(evaluation):
        config = folder / (RECORD if is_adapter(folder) else "config.json")
        values = json.loads(config.read_text(encoding="utf-8"))
        config.unlink()  # a link to the trained model's own file: write a new one, never through the link
        config.write_text(json.dumps({**values, "decision_threshold": cutoff}, indent=2) + "\n", encoding="utf-8")
    for source in saved_figures(evaluation.figures).values():  # where the card's image links point
        (folder / FIGURES_FOLDER).mkdir(exist_ok=True)
        link_tree(source, folder / FIGURES_FOLDER / source.name)
    if earlier:  # the main metric of the versions released before this model
        history_png(earlier, folder / FIGURES_FOLDER / FIGURE)
    (folder / "README.md").unlink(missing_ok=True)
    (folder / "README.md").write_text(card, encoding="utf-8")
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def is_model_file(name: str) -> bool:
    """Whether an uploaded file is part of the model a release identifies (weights, config with its decision
    threshold, tokenizer), not its card or figures: a re-run whose card only words things differently is no new
    release."""
    return name != "README.md" and not name.startswith(f"{FIGURES_FOLDER}/")


def run_id() -> str:
    """The flow run (else the task run) this push belongs to: its commits say so, and a retry recognises them."""
    return str(runtime.flow_run.id or runtime.task_run.id or "")


@task(
    name="push",
    cache_policy=stage_policy(HubTokenPresence()),
    persist_result=True,
    retry_condition_fn=retry_if_transient,
)
@timed("push")
def push_model(
    pipeline: str,
    description: str,
    spec: PushSpec,
    model: ModelManifest,
    evaluation: EvaluationReport,
    data: DataManifest,
    validation: ValidationReport,
    dry_run: bool = False,
    spec_hash: str = "",
    head: HubHead | None = None,
    search: SearchReport | None = None,
) -> PushResult:
    """Push the model that passed its thresholds, as one commit on `head` (the head its promotion was decided
    against; HeadMoved when main moved since); without a token (or with `dry_run`), write what would be pushed
    and stop there. Without a champion comparison (`evaluation.promotion`), a model released before and replaced
    by a later release since is not published again."""
    logger = get_run_logger()
    earlier = earlier_releases(history(pipeline), spec_hash, data.fingerprint)
    card = render_model_card(
        pipeline=pipeline,
        description=description,
        repo_id=spec.repo_id,
        model=model,
        evaluation=evaluation,
        metrics_table=metrics_table(evaluation),
        data=data,
        validation=validation,
        spec_hash=spec_hash,
        search=search,
        history=f"{FIGURES_FOLDER}/{FIGURE}" if any(row.value is not None for row in earlier) else "",
    )
    folder = new_output_dir("push", stable_hash("push", model.key, evaluation, spec))
    with atomic_dir(folder) as scratch:
        files = stage_upload(model, card, scratch, evaluation, earlier)
    result = PushResult(repo_id=spec.repo_id, endpoint=spec.endpoint, dry_run=True, folder=folder, files=files)
    token, reason = (None, "Dry run asked for") if dry_run else push_credentials(spec.token_secret_block)
    if token is None:
        outcome = f"{reason}: nothing was pushed; the {len(files)} files for {spec.repo_id} are in {folder}"
        logger.warning("%s", outcome)
        return result.model_copy(update={"outcome": outcome})
    release_id = files_fingerprint([folder / name for name in files if is_model_file(name)])
    release = publish_release(
        hub_api(spec, token), spec.repo_id, folder, release_id, spec.commit_message, spec.private,
        decided_on=head, run_id=run_id(), compared=evaluation.promotion is not None,
    )
    outcome = release.describe(spec.repo_id)
    logger.info("%s (%d files)", outcome, len(files))
    return result.model_copy(
        update={"dry_run": False, "commit_url": release.commit_url, "commit_oid": release.commit_oid,
                "tag": release.tag, "made_commit": release.made_commit, "made_tag": release.made_tag,
                "outcome": outcome}
    )
