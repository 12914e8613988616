"""Stage 6: upload model, tokenizer and model card to the Hub in one commit (a dry run without a token)."""

from __future__ import annotations

import shutil
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from prefect import task
from prefect.logging import get_run_logger
from pydantic import SecretStr

from modelmill.artifacts import atomic_dir, new_output_dir, stable_hash
from modelmill.caching import HubTokenPresence, stage_policy
from modelmill.errors import PushRejected
from modelmill.manifests import DataManifest, EvaluationReport, ModelManifest, PushResult, ValidationReport
from modelmill.model_card import render_model_card
from modelmill.reporting import metrics_table
from modelmill.retry import TRANSIENT_STATUS, retry_if_transient
from modelmill.secrets import push_credentials
from modelmill.spec import PushSpec

NOT_UPLOADED = ("training_args.bin",)  # a pickle of local training state: not for the Hub


def stage_upload(model: ModelManifest, card: str, folder: Path) -> list[str]:
    """Copy the model folder and write README.md into `folder`; return the relative file names."""
    shutil.copytree(model.path, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*NOT_UPLOADED))
    (folder / "README.md").write_text(card, encoding="utf-8")
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def upload(folder: Path, spec: PushSpec, token: SecretStr) -> tuple[str, str]:
    """Create the repo if missing and commit the folder; returns (commit url, commit id)."""
    api = HfApi(endpoint=spec.endpoint, token=token.get_secret_value())
    try:
        api.create_repo(spec.repo_id, private=spec.private, exist_ok=True)
        commit = api.upload_folder(folder_path=folder, repo_id=spec.repo_id, commit_message=spec.commit_message)
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in TRANSIENT_STATUS:
            raise
        raise PushRejected(
            f"{spec.endpoint} refused the push to '{spec.repo_id}' (HTTP {status}): check that the token "
            "can write to this repo (HF_TOKEN or push.token_secret_block) and that push.repo_id is right"
        ) from None
    return commit.commit_url, commit.oid


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
    )
    folder = new_output_dir("push", stable_hash("push", model, evaluation.key, spec))
    with atomic_dir(folder) as scratch:
        files = stage_upload(model, card, scratch)
    result = PushResult(repo_id=spec.repo_id, endpoint=spec.endpoint, dry_run=True, folder=folder, files=files)
    token, reason = (None, "Dry run asked for") if dry_run else push_credentials(spec.token_secret_block)
    if token is None:
        logger.warning(
            "%s: nothing was pushed. The %d files that would go to %s are in %s", reason, len(files), spec.repo_id,
            folder,
        )
        return result
    commit_url, commit_oid = upload(folder, spec, token)
    logger.info("Pushed %d files to %s: %s", len(files), spec.repo_id, commit_url)
    return result.model_copy(update={"dry_run": False, "commit_url": commit_url, "commit_oid": commit_oid})
