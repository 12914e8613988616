"""Champion vs challenger on the loopback Hub: the first model is released as v1, a worse retrain is not
promoted and leaves the Hub as it was, and repeating the first run publishes nothing new."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from modelmill.config import EvaluateSpec, PromoteSpec
from modelmill.hub.promotion import comparison_table, decide, set_rows
from tests.conftest import LEARNS_THE_TASK, pipeline_dict, review_rows, write_jsonl
from tests.flows.conftest import STAGES
from tests.patience import patient


def test_a_worse_retrain_is_not_promoted_and_the_hub_keeps_its_release(prefect, run, hub, hub_token, tiny_model_dir,
                                                                      review_files, tmp_path, capsys):
    spec = pipeline_dict(tiny_model_dir, review_files, hub.url)
    spec["evaluate"]["promote"] = {"metric": "accuracy", "guards": [{"metric": "recall", "class": "positive",
                                                                     "tolerance": 0.5}]}
    spec["train"].update(LEARNS_THE_TASK)
    # a first run with nothing published: promoted, one commit tagged v1
    first, stages = run(spec)
    assert first.is_completed() and first.name == "Completed", first.message
    summary = first.result()
    assert summary.promoted and "no model is published" in summary.evaluation.promotion.reason
    repo = hub.state.repos["tests/tiny-sentiment"]
    assert (len(repo.releases), list(repo.tags)) == (1, ["v1"]) and summary.push.tag == "v1"
    assert summary.evaluation.metrics["accuracy"] >= 0.75, "the first model must be worth defending"
    # a retrain made worse on purpose (a learning rate too small to learn anything)
    worse, stages = run(spec, learning_rate=1e-9)
    assert worse.is_completed() and worse.name == "Not promoted", worse
    assert "push" not in stages and stages["evaluate"] == stages["challenge"] == "Completed"
    result = worse.result()
    promotion = result.evaluation.promotion
    assert not promotion.promoted and promotion.champion_revision == repo.tags["v1"]
    (decisive,) = [row for row in promotion.rows if row.name == "accuracy"]
    assert decisive.challenger < decisive.champion and not decisive.passed
    assert decisive.champion == summary.evaluation.metrics["accuracy"], "the champion scored on the same split"
    assert result.push is None
    assert (len(repo.releases), list(repo.tags)) == (1, ["v1"]), "the Hub is unchanged"
    # the same inputs as the first run again: main moved since its decision (v1 is there now), so it decides again,
    # against itself, and finds its exact model released: nothing new is committed or tagged
    again, stages = run(spec)
    assert again.is_completed() and stages["train"] == stages["evaluate"] == "Cached"
    assert stages["challenge"] == stages["push"] == "Completed"
    assert (len(repo.releases), list(repo.tags)) == (1, ["v1"])
    assert again.result().push.outcome == "tests/tiny-sentiment already holds this exact model as v1: no commit, no tag"
    # and with main unchanged since, the decision and the push are cache hits
    _, stages = run(spec)
    assert stages == {**{stage: "Cached" for stage in STAGES}, "challenge": "Cached", "hub_head": "Completed"}
    # a drop on test is allowed, but the champion is scored on every extra set too: the worse model's delta on
    # each shows beside the test delta, and a set's own guard keeps the champion when the new model forgets it
    spec["evaluate"]["promote"]["min_improvement"] = -1
    spec["evaluate"]["sets"] = {"old": {"file": str(review_files["validation"]),
                                        "guard": {"metric": "accuracy", "tolerance": 0.0}},
                                "recent": {"file": str(review_files["test"])}}
    forgets, stages = run(spec, learning_rate=1e-9)
    assert forgets.name == "Not promoted" and "push" not in stages
    evaluation = forgets.result().evaluation
    promotion, sets = evaluation.promotion, {scores.name: scores.metrics for scores in evaluation.sets}
    assert promotion.reason == "not better than the published model (" + repo.tags["v1"][:8] + "): accuracy (set old)"
    test_row, _, old, recent = promotion.rows  # the test guard of recall[positive] second
    assert test_row.passed and test_row.champion == summary.evaluation.metrics["accuracy"]
    assert (recent.name, recent.gated, recent.challenger) == ("accuracy (set recent)", False, sets["recent"]["accuracy"])
    assert recent.champion == test_row.champion, "the same rows as the test split: the same champion score"
    assert old.name == "accuracy (set old)" and old.challenger == sets["old"]["accuracy"] < old.champion
    assert not old.passed and (len(repo.releases), list(repo.tags)) == (1, ["v1"])
    # the dashboard: `modelmill releases` lists v1 on the Hub, then every run of this home, newest first, with its
    # outcome, version, data, spec, main metric and its delta against the champion, and why it was not promoted
    from modelmill.cli import main
    from modelmill.observe.release_history import history
    from tests.flows.conftest import run_artifacts

    capsys.readouterr()
    assert main(["releases", "tiny", "-f", str(tmp_path / "pipelines.yaml")]) == 0
    out = capsys.readouterr().out
    assert "Releases of tests/tiny-sentiment" in out and "  v1 " in out
    rows = history("tiny")
    assert [row.status for row in rows] == ["not promoted", "completed", "completed", "not promoted", "completed"]
    assert [row.version for row in rows] == ["", "v1", "v1", "", "v1"]
    assert rows[-1].metric == "accuracy" and rows[-1].value == summary.evaluation.metrics["accuracy"]
    assert rows[-2].delta == pytest.approx(decisive.challenger - decisive.champion)
    assert rows[0].reason == promotion.reason and rows[-1].data == summary.data_fingerprint != ""
    assert all(row.spec and f"| {row.spec[:12]} |" in out for row in rows)
    assert "accuracy (set old)" in out and "Main metric per run: " in out
    figure = Path(out.split("Main metric per run: ")[1].split()[0])
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a release's card shows the versions released before it, drawn; a re-run of a released model makes the same
    # card as its first run (no history of itself)
    from modelmill.observe.release_history import earlier_releases, history_png

    assert "## History" not in (again.result().push.folder / "README.md").read_text()
    assert earlier_releases(rows, rows[-1].spec, rows[-1].data) == []
    before_another = earlier_releases(rows, "another spec", rows[-1].data)
    assert [row.version for row in before_another] == ["v1"] and before_another[0].value == rows[-1].value
    assert history_png(before_another, tmp_path / "card.png").read_bytes()[:4] == b"\x89PNG"
    # and every run published the same table as the `tiny-releases` artifact
    (artifact,) = [a for a in run_artifacts(forgets) if a.key == "tiny-releases"]
    assert "| not promoted |" in artifact.data and "| v1 |" in artifact.data


def test_a_fill_mask_retrain_is_compared_with_the_published_model_on_perplexity_where_lower_is_better(
    prefect, run, hub, hub_token, tiny_model_dir, tmp_path
):
    texts = {split: write_jsonl(tmp_path / "mlm" / f"{split}.jsonl",
                                [{"text": row["text"]} for row in review_rows(seed, count)])
             for seed, split, count in ((11, "train", 64), (12, "validation", 16), (13, "test", 16))}
    spec = pipeline_dict(tiny_model_dir, texts, hub.url)
    spec.update(task="fill-mask", data={"files": {split: str(path) for split, path in texts.items()}})
    spec["validation"] = {"expectations": []}
    spec["train"].update(epochs=2, learning_rate=5e-3)
    # a retrain that learns nothing also loses to the untuned model: that gate is off, the promotion rule decides
    spec["evaluate"] = {"promote": {"metric": "perplexity", "guards": [{"metric": "mlm_loss", "tolerance": 0.5}]},
                        "baselines": {"must_beat": []}}
    first, _ = run(spec)
    assert first.name == "Completed" and first.result().push.tag == "v1", first.message
    published = first.result().evaluation.metrics
    # a retrain that learns nothing has a higher perplexity: a step back, however the numbers compare
    worse, stages = run(spec, learning_rate=1e-9)
    promotion = worse.result().evaluation.promotion
    assert worse.name == "Not promoted" and "push" not in stages, worse.message
    decisive, guard = promotion.rows
    assert decisive.champion == pytest.approx(published["perplexity"]), "the champion scored on the same masks"
    assert decisive.challenger > decisive.champion and not decisive.passed
    assert guard.rule == "rises by <= 0.5" and guard.challenger > guard.champion
    # and the first model's settings again: no worse than the published one (itself), so promoted
    again, _ = run(spec)
    assert again.result().evaluation.promotion.promoted


def test_a_published_model_with_other_labels_is_never_silently_compared(prefect, run, hub, hub_token, tiny_model_dir,
                                                                          review_files):
    spec = pipeline_dict(tiny_model_dir, review_files, hub.url)
    spec["evaluate"]["promote"] = {"metric": "accuracy"}
    run(spec)
    # the labels are renamed: the published model speaks another label set
    for path in review_files.values():
        path.write_text(path.read_text().replace(",negative", ",bad").replace(",positive", ",good"))
    spec["data"]["labels"] = ["bad", "good"]
    spec["validation"]["expectations"] = []
    state, _ = run(spec)
    promotion = state.result().evaluation.promotion
    assert state.name == "Not promoted" and "cannot be compared" in promotion.reason
    assert "on_label_change: promote" in promotion.reason
    spec["evaluate"]["promote"]["on_label_change"] = "promote"
    state, _ = run(spec)
    assert state.name == "Completed" and state.result().push.tag == "v2"


def test_the_cli_exits_3_and_the_team_hears_when_a_retrain_is_not_promoted(prefect, hub, hub_token, tiny_model_dir,
                                                                             review_files, write_pipelines, capsys):
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from modelmill.cli import main
    from tests.webhook_receiver import WebhookReceiver

    with WebhookReceiver() as hook:
        CustomWebhookNotificationBlock(
            name="ml-team", url=hook.url, json_data={"subject": "{{subject}}", "body": "{{body}}"}
        ).save("ml-team", overwrite=True)
        spec = pipeline_dict(tiny_model_dir, review_files, hub.url)
        spec["train"].update(LEARNS_THE_TASK)
        spec["evaluate"]["promote"] = {"metric": "accuracy"}
        spec["notify"] = {"block": "custom-webhook/ml-team", "on": ["failed", "not_promoted"]}
        path = str(write_pipelines({"tiny": spec}))
        assert main(["run", "tiny", "-f", path]) == 0
        # when a worse retrain runs from the command line
        assert main(["run", "tiny", "-f", path, "--set", "train.learning_rate=1e-9"]) == 3
        out = capsys.readouterr().out
        (message,) = hook.wait_for(1, timeout=patient(30))
    # then the terminal and the notification show the side-by-side table, and nothing was pushed
    assert "NOT PROMOTED" in out and "| accuracy |" in out and "nothing was pushed" in out
    assert message["subject"] == "modelmill: pipeline 'tiny' not promoted"
    assert "Not promoted: not better than the published model" in message["body"]
    assert "accuracy 0." in message["body"] and "improves by >= 0: FAIL" in message["body"]
    assert len(message["body"]) < 600, "the full table stays in the artifact"
    assert len(hub.state.repos["tests/tiny-sentiment"].releases) == 1


def test_a_cached_decision_against_an_older_head_never_publishes_a_worse_model(prefect, run, hub, hub_token,
                                                                                 tiny_model_dir, review_files):
    good = pipeline_dict(tiny_model_dir, review_files, hub.url)
    good["evaluate"]["promote"] = {"metric": "f1"}
    good["train"].update(LEARNS_THE_TASK)
    worse = copy.deepcopy(good)
    worse["train"].update(max_steps=1, learning_rate=1e-9)
    repo_id = "tests/tiny-sentiment"
    # given a worse model promoted while nothing was published, whose push failed on 503s
    hub.state.fail_next("POST", r"/commit/", 503, times=3)
    failed, stages = run(worse)
    assert failed.is_failed() and stages["push"] == "Failed"
    # and a better model released as v1 since
    released, _ = run(good)
    assert released.result().push.tag == "v1"
    repo = hub.state.repos[repo_id]
    better_head = repo.head
    # when the worse pipeline runs again (its evaluation is cached)
    again, stages = run(worse)
    # then its decision is taken again against the head as it is now, and it is not promoted
    assert stages["evaluate"] == "Cached" and stages["challenge"] == "Completed" and "push" not in stages
    assert again.name == "Not promoted", again.message
    assert again.result().evaluation.promotion.champion_revision == better_head
    assert repo.head == better_head and (len(repo.releases), list(repo.tags)) == (1, ["v1"])


def test_a_release_whose_head_moved_before_its_commit_is_decided_again_on_the_new_head(prefect, run, hub, hub_token,
                                                                                          tiny_model_dir, review_files):
    spec = pipeline_dict(tiny_model_dir, review_files, hub.url)
    spec["train"].update(LEARNS_THE_TASK)
    spec["evaluate"]["promote"] = {"metric": "f1", "min_improvement": -1}
    run(spec)
    repo = hub.state.repos["tests/tiny-sentiment"]
    # given another publisher whose release lands between this run's decision and its commit
    hub.state.before_next("POST", r"/commit/", lambda state: repo.append("another publisher", "", dict(repo.files)))
    state, stages = run(spec, seed=7)
    # then the commit on the old head was refused, the run decided again against the new head and released on it
    assert state.name == "Completed", state.message
    promotion = state.result().evaluation.promotion
    theirs = next(commit.oid for commit in repo.releases if commit.title == "another publisher")
    assert promotion.champion_revision == theirs and promotion.head.oid == theirs
    assert [commit.title for commit in repo.releases][-2:] == ["another publisher", "modelmill: fine-tuned model"]
    assert repo.tags["v2"] == repo.head and state.result().push.made_commit


def test_the_reason_says_how_the_new_model_compares_and_what_allowed_it():
    champion = {"f1": 0.90}
    better = decide(PromoteSpec(metric="f1"), {"f1": 0.93}, champion, "abcdef1234")
    assert better.reason == "better than the published model (abcdef12) by 0.0300 on f1"
    allowed = decide(PromoteSpec(metric="f1", min_improvement=-0.05), {"f1": 0.88}, champion, "abcdef1234")
    assert allowed.promoted and allowed.reason == (
        "worse than the published model (abcdef12) by 0.0200 on f1, allowed by evaluate.promote.min_improvement -0.05"
    )
    refused = decide(PromoteSpec(metric="f1", min_improvement=-0.01), {"f1": 0.88}, champion, "abcdef1234")
    assert not refused.promoted and refused.reason == "not better than the published model (abcdef12): f1"


def test_each_extra_set_shows_its_delta_and_only_a_set_guard_can_stop_the_promotion(tmp_path):
    rows = tmp_path / "set.csv"
    rows.write_text("text,label\nfine,positive\n", encoding="utf-8")
    spec = EvaluateSpec(metrics=["accuracy", "f1"], promote={"metric": "f1"}, sets={
        "old": {"file": str(rows), "guard": {"metric": "recall", "class": "spam", "tolerance": 0.05}},
        "new": {"file": str(rows)}})
    champion = {"old": {"f1": 0.9, "recall[spam]": 0.90}, "new": {"f1": 0.8}}
    forgets = set_rows(spec, {"old": {"f1": 0.95, "recall[spam]": 0.80}, "new": {"f1": 0.6}}, champion)
    assert [(row.name, row.gated, row.passed) for row in forgets] == [
        ("f1 (set new)", False, True), ("f1 (set old)", False, True), ("recall[spam] (set old)", True, False)]
    decision = decide(spec.promote, {"f1": 0.93}, {"f1": 0.90}, "abcdef1234", forgets)
    assert not decision.promoted and decision.reason.endswith("): recall[spam] (set old)")
    assert "| f1 (set new) | 0.8000 | 0.6000 | -0.2000 | shown (no guard) | - |" in comparison_table(decision)
    kept = set_rows(spec, {"old": {"f1": 0.9, "recall[spam]": 0.86}, "new": {"f1": 0.6}}, champion)
    assert decide(spec.promote, {"f1": 0.93}, {"f1": 0.90}, "abcdef1234", kept).promoted
    with pytest.raises(ValueError, match=r"sets.old.guard: compares with the published model; set evaluate.promote"):
        EvaluateSpec(sets={"old": {"file": str(rows), "guard": {"metric": "f1"}}})
