"""Champion vs challenger on the loopback Hub: the first model is released as v1, a worse retrain is not
promoted and leaves the Hub as it was, and repeating the first run publishes nothing new."""

from __future__ import annotations

from tests.conftest import LEARNS_THE_TASK, pipeline_dict
from tests.flows.conftest import STAGES


def test_a_worse_retrain_is_not_promoted_and_the_hub_keeps_its_release(prefect, run, hub, hub_token, tiny_model_dir,
                                                                      review_files):
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
    assert (len(repo.commits), list(repo.tags)) == (1, ["v1"]) and summary.push.tag == "v1"
    assert summary.evaluation.metrics["accuracy"] >= 0.75, "the first model must be worth defending"
    # a retrain made worse on purpose (a learning rate too small to learn anything)
    worse, stages = run(spec, learning_rate=1e-9)
    assert worse.is_completed() and worse.name == "Not promoted", worse
    assert "push" not in stages and stages["evaluate"] == "Completed"
    result = worse.result()
    promotion = result.evaluation.promotion
    assert not promotion.promoted and promotion.champion_revision == repo.tags["v1"]
    (decisive,) = [row for row in promotion.rows if row.name == "accuracy"]
    assert decisive.challenger < decisive.champion and not decisive.passed
    assert decisive.champion == summary.evaluation.metrics["accuracy"], "the champion scored on the same split"
    assert result.push is None
    assert (len(repo.commits), list(repo.tags)) == (1, ["v1"]), "the Hub is unchanged"
    # the same inputs as the first run again: nothing new is committed or tagged
    again, stages = run(spec)
    assert again.is_completed() and stages == {stage: "Cached" for stage in STAGES}
    assert (len(repo.commits), list(repo.tags)) == (1, ["v1"])


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
        (message,) = hook.wait_for(1, timeout=30)
    # then the terminal and the notification show the side-by-side table, and nothing was pushed
    assert "NOT PROMOTED" in out and "| accuracy |" in out and "nothing was pushed" in out
    assert message["subject"] == "modelmill: pipeline 'tiny' not promoted"
    assert "| metric | champion | challenger | delta | rule | status |" in message["body"]
    assert len(hub.state.repos["tests/tiny-sentiment"].commits) == 1
