"""Stage 6: upload model, tokenizer and model card to the Hub in one commit (a dry run without a token)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from modelmill.artifacts import atomic_dir, files_fingerprint, new_output_dir, stable_hash
from modelmill.caching import HubTokenPresence, stage_policy
from modelmill.hub.client import hub_api
from modelmill.hub.releases import publish_release
from modelmill.manifests import DataManifest, EvaluationReport, ModelManifest, PushResult, ValidationReport
from modelmill.evaluation.figures import saved_figures
from modelmill.hub.model_card import FIGURES_FOLDER, decision_config, render_model_card
from modelmill.reporting import metrics_table
from modelmill.retry import retry_if_transient
from modelmill.secrets import push_credentials
from modelmill.spec import PushSpec

NOT_UPLOADED = ("training_args.bin",)  # a pickle of local training state: not for the Hub


def stage_upload(model: ModelManifest, card: str, folder: Path, evaluation: EvaluationReport) -> list[str]:
    """Copy the model folder, its evaluation figures and README.md into `folder`, with the decision threshold (if
    any) in config.json; return the relative file names."""
    shutil.copytree(model.path, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*NOT_UPLOADED))
    if cutoff := decision_config(evaluation):
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        (folder / "config.json").write_text(
            json.dumps({**config, "decision_threshold": cutoff}, indent=2) + "\n", encoding="utf-8"
        )
    for source in saved_figures(evaluation.figures).values():  # where the card's image links point
        (folder / FIGURES_FOLDER).mkdir(exist_ok=True)
        shutil.copyfile(source, folder / FIGURES_FOLDER / source.name)
    (folder / "README.md").write_text(card, encoding="utf-8")
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


@task(
    name="push",
    cache_policy=stage_policy(HubTokenPresence()),
    persist_result=True,
    retry_condition_fn=retry_if_transient,
)
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
) -> PushResult:
    """Push the model that passed its thresholds; without a token (or with `dry_run`), write what would be
    pushed and stop there."""
    logger = get_run_logger()
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
    )
    folder = new_output_dir("push", stable_hash("push", model, evaluation.key, spec))
    with atomic_dir(folder) as scratch:
        files = stage_upload(model, card, scratch, evaluation)
    result = PushResult(repo_id=spec.repo_id, endpoint=spec.endpoint, dry_run=True, folder=folder, files=files)
    token, reason = (None, "Dry run asked for") if dry_run else push_credentials(spec.token_secret_block)
    if token is None:
        logger.warning(
            "%s: nothing was pushed. The %d files that would go to %s are in %s", reason, len(files), spec.repo_id,
            folder,
        )
        return result
    release_id = files_fingerprint([folder / name for name in files])
    release = publish_release(
        hub_api(spec, token), spec.repo_id, folder, release_id, spec.commit_message, spec.private
    )
    if release.new_commit or release.new_tag:
        logger.info("Released %s of %s (%d files): %s", release.tag, spec.repo_id, len(files), release.commit_url)
    else:
        logger.info("%s already holds this exact model as %s: no commit, no tag", spec.repo_id, release.tag)
    return result.model_copy(
        update={"dry_run": False, "commit_url": release.commit_url, "commit_oid": release.commit_oid,
                "tag": release.tag, "new_commit": release.new_commit}
    )
