"""What every run does around its stages: read the file at start, apply overrides, name itself, publish its
spec and summary (cached or not), re-run stages whose artifacts are gone, and notify on failure."""

from __future__ import annotations

import re
import shutil
from typing import Any

from prefect.client.orchestration import get_client

from modelmill.storage.settings import get_settings
from tests.conftest import pipeline_dict
from tests.flows.conftest import STAGES, run_artifacts
from tests.patience import patient
from tests.webhook_receiver import WebhookReceiver

RUN_NAME = re.compile(r"^tiny-\d{8}-\d{6}-[0-9a-f]{6}$")


def flow_run_name(state: Any) -> str:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id).name


def test_a_cached_run_still_publishes_its_spec_and_summary_under_a_meaningful_name(prefect, run, tiny_model_dir, review_files):
    spec = pipeline_dict(tiny_model_dir, review_files)
    first, _ = run(spec)
    # given a first run whose training published its progress and its epoch table
    artifacts = run_artifacts(first)
    assert [a.data for a in artifacts if a.type == "progress"] == [100.0]
    (epochs,) = [a.data for a in artifacts if a.type == "markdown" and "evaluation per epoch" in a.data]
    assert "| epoch | step | train_loss | loss | accuracy |" in epochs and "| 2 | 12 |" in epochs, epochs
    # when the same run is repeated and every stage is a cache hit
    state, stages = run(spec, note="nightly check")
    assert stages == {stage: "Cached" for stage in STAGES}
    # then the run is named after the pipeline, the time and the spec hash
    summary = state.result()
    assert RUN_NAME.match(flow_run_name(state)) and summary.run_name == flow_run_name(state)
    assert flow_run_name(state).endswith(summary.spec_hash[:6])
    # and it published the spec it used and a summary listing each stage as Cached, with metrics and push
    markdown = [artifact for artifact in run_artifacts(state) if artifact.type == "markdown"]
    (spec_md,) = [artifact.data for artifact in markdown if artifact.data.startswith("## Spec of pipeline `tiny`")]
    assert summary.spec_hash in spec_md and "learning_rate: 0.005" in spec_md and "nightly check" in spec_md
    (summary_md,) = [artifact.data for artifact in markdown if artifact.key == "tiny-cli-summary"]
    assert "| train | Cached |" in summary_md and "| accuracy |" in summary_md and "dry run" in summary_md


def test_overrides_change_only_what_they_touch(prefect, run, tiny_model_dir, review_files):
    spec = pipeline_dict(tiny_model_dir, review_files)
    first, _ = run(spec)
    # a learning rate for this run only: data stages reused, train onward re-run, recorded in the spec hash
    tuned, stages = run(spec, learning_rate=1e-3)
    assert [stages[s] for s in STAGES] == ["Cached"] * 3 + ["Completed"] * 3
    assert tuned.result().spec_hash != first.result().spec_hash
    assert {a.key for a in run_artifacts(tuned)} >= {"tiny-experiment-summary"}, "experiments have their own history"
    # force_retrain trains again with the file's own settings, even though that model is cached
    forced, stages = run(spec, force_retrain=True)
    assert stages["train"] == "Completed" and stages["tokenize"] == "Cached"
    assert forced.result().model_path != first.result().model_path, "a new model never overwrites a published one"
    assert (first.result().model_path / "model.safetensors").is_file()


def test_a_cache_hit_whose_artifacts_were_deleted_runs_the_stages_again(prefect, run, tiny_model_dir, review_files):
    spec = pipeline_dict(tiny_model_dir, review_files)
    run(spec)
    # given the artifacts folder deleted while Prefect's cache records remain
    shutil.rmtree(get_settings().artifacts)
    # when the pipeline runs again, then every stage recomputes instead of passing on a dangling path
    state, stages = run(spec)
    assert stages == {stage: "Completed" for stage in STAGES}
    assert (state.result().model_path / "model.safetensors").is_file()
    # and the recomputed results are cached in turn
    _, stages = run(spec)
    assert stages == {stage: "Cached" for stage in STAGES}


def test_a_failed_run_notifies_the_pipelines_block_with_the_reason(prefect, run, tiny_model_dir, review_files):
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    with WebhookReceiver() as hook:
        CustomWebhookNotificationBlock(
            name="ml-oncall", url=hook.url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
        ).save("ml-oncall", overwrite=True)
        spec = pipeline_dict(tiny_model_dir, review_files)
        spec["notify"] = {"block": "custom-webhook/ml-oncall"}
        spec["evaluate"]["thresholds"] = {"accuracy": {"min": 0.0, "max": 0.01}}  # no model can pass this
        # when the run fails its thresholds
        state, _ = run(spec)
        assert state.is_failed()
        # then the block receives the pipeline, what happened and the failed metric
        (message,) = hook.wait_for(1, timeout=patient(30))
    assert message["subject"] == "modelmill: pipeline 'tiny' failed"
    assert "ThresholdsNotMet: below 1 gate(s): accuracy " in message["body"] and "<= 0.01)" in message["body"]
    assert flow_run_name(state) in message["body"] and len(message["body"]) < 600, "the report stays in the artifact"
    # and the run ended Failed with that one-line reason, not a traceback
    assert state.message.startswith("ThresholdsNotMet: below 1 gate(s): accuracy ") and "\n" not in state.message


def test_a_dry_run_pushes_nothing_even_with_a_token(prefect, run, hub, hub_token, tiny_model_dir, review_files):
    state, stages = run(pipeline_dict(tiny_model_dir, review_files, hub.url), dry_run=True)
    assert stages["push"] == "Completed"
    push = state.result().push
    assert push.dry_run and (push.folder / "README.md").is_file()
    assert hub.state.repos == {}


def test_editing_a_rule_file_reruns_validation_and_only_what_depends_on_it(prefect, run, tiny_model_dir, review_files,
                                                                            tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - expect_column_values_to_not_be_null: {column: text}\n")
    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["validation"] = {"suites": [str(rules)]}
    run(spec)
    # when the data team adds a warning rule to their file
    rules.write_text(rules.read_text() + "  - expect_table_row_count_to_be_between: {min_value: 1000}\n"
                                         "    severity: warning\n")
    state, stages = run(spec)
    # then validation runs again and reports it, training is reused, and the push (its card) is redone
    assert state.is_completed()
    assert stages == {"load_data": "Cached", "validate_data": "Completed", "tokenize": "Cached", "train": "Cached",
                      "evaluate": "Cached", "push": "Completed"}


def test_two_checkouts_of_one_project_in_different_folders_share_one_identity_and_one_cache(
    prefect, tiny_model_dir, review_files, tmp_path
):
    import yaml

    from flows.finetune import finetune
    from tests.flows.conftest import stage_states

    # given the same project (its pipelines file, a rule file and its data, at the same relative places) in two folders
    spec = pipeline_dict(tiny_model_dir, {split: f"data/{path.name}" for split, path in review_files.items()})
    spec["validation"]["suites"] = ["rules/reviews.yaml"]
    checkouts = []
    for name in ("alice-checkout", "ci/builds/1234"):
        root = tmp_path / name
        shutil.copytree(review_files["train"].parent, root / "data")
        (root / "rules").mkdir()
        (root / "rules" / "reviews.yaml").write_text("rules:\n  - expect_column_values_to_not_be_null: {column: text}\n")
        (root / "pipelines.yaml").write_text(yaml.safe_dump({"pipelines": {"tiny": spec}}))
        checkouts.append(root / "pipelines.yaml")
    # when each runs the pipeline against one home
    first = finetune(pipeline="tiny", pipelines_file=str(checkouts[0]), return_state=True)
    second = finetune(pipeline="tiny", pipelines_file=str(checkouts[1]), return_state=True)
    # then both have one spec hash, and the second is all cache hits
    assert first.result().spec_hash == second.result().spec_hash
    assert set(stage_states(second).values()) == {"Cached"}, stage_states(second)
    # and an edited data file is another identity
    (checkouts[1].parent / "data" / "test.csv").write_text("text,label\nchanged,positive\nagain,negative\n")
    third = finetune(pipeline="tiny", pipelines_file=str(checkouts[1]), return_state=True)
    assert third.result().spec_hash != first.result().spec_hash and stage_states(third)["load_data"] == "Completed"


def test_a_rule_only_gx_refuses_stops_a_run_no_check_preceded_before_any_stage(prefect, run, tiny_model_dir,
                                                                              review_files):
    from tests.modelmill.test_library_index import RULES_ONLY_GX_REFUSES

    spec = pipeline_dict(tiny_model_dir, review_files)
    spec["validation"]["expectations"] += RULES_ONLY_GX_REFUSES[:1]
    state, stages = run(spec)
    assert state.is_failed() and stages == {}
    assert "validation.expectations[2]: invalid arguments for 'expect_table_row_count_to_be_between'" in state.message


def test_a_run_whose_every_stage_is_cached_loads_no_data_model_or_server(prefect, write_pipelines, tiny_model_dir,
                                                                          review_files, monkeypatch, capsys):
    import datasets
    import transformers

    import flows.finetune
    from modelmill.cli import main

    path = str(write_pipelines({"tiny": pipeline_dict(tiny_model_dir, review_files)}))
    assert main(["run", "tiny", "-f", path]) == 0
    first = capsys.readouterr().out
    # when it runs again with nothing changed, nothing may be loaded, trained or served
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a fully cached run loaded data, a model or Prefect")

    for target in (datasets, "load_dataset"), (datasets, "load_from_disk"), (flows.finetune, "finetune"):
        monkeypatch.setattr(*target, refuse)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", refuse)
    monkeypatch.setattr("modelmill.runtime.preflight.problems_of", refuse)
    monkeypatch.setattr("modelmill.runtime.server.start_server", refuse)  # not even early, on a hunch
    assert main(["run", "tiny", "-f", path]) == 0
    again = capsys.readouterr().out
    # then it prints the same report from the records, and says so
    assert "every stage cached: read from the cache, nothing ran" in again
    assert "Cached stages: load_data, validate_data, tokenize, train, evaluate, push" in again
    table = [line for line in first.splitlines() if line.startswith("| accuracy |")]
    assert table and table == [line for line in again.splitlines() if line.startswith("| accuracy |")]
    # and anything changed goes through the checks and Prefect again (refused here by the patches)
    assert main(["run", "tiny", "-f", path, "--set", "train.learning_rate=1e-3"]) == 1
    assert "a fully cached run loaded data, a model or Prefect" in capsys.readouterr().err
