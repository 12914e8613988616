"""`trigger: {on: data}` on a real Prefect server (127.0.0.1) under `modelmill serve`: a new file in a watched
local folder and a changed object in moto's S3 bucket each start one run; the same data again starts none; a burst
of changes within the debounce starts one, after the running retrain; a change announced a hundred times starts one
run."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.conftest import review_rows, write_csv
from tests.object_store import BUCKET, S3Server
from tests.patience import patient
from tests.server.conftest import BIN, RealServer, stop_serving, write_pipelines
from tests.server.test_real_server import wait_for

POLL = 10  # seconds: a poll is a short flow run of its own
# one change announced a hundred times, from a process of its own (this one's events client may point at the test
# harness's server)
ANNOUNCE_100 = """
from prefect.events import emit_event
from prefect.events.worker import EventsWorker

for _ in range(100):
    emit_event(event="modelmill.data.changed", payload={"change": "again"},
               resource={"prefect.resource.id": "modelmill.data.objects", "modelmill.data.change": "again",
                         "modelmill.data.identity": "x"})
EventsWorker.drain_all()
"""


def runs_of(client: Any, deployment_name: str, *states: str) -> list[Any]:
    """The runs of a deployment (in one of `states`, state types, if given), oldest first; none while `serve` has
    not registered it."""
    from prefect.exceptions import ObjectNotFound

    try:
        deployment = client.read_deployment_by_name(deployment_name)
    except ObjectNotFound:
        return []
    by_state = {"state": {"type": {"any_": list(states)}}} if states else {}
    return sorted(client.read_flow_runs(flow_run_filter=FlowRunFilter(deployment_id={"any_": [deployment.id]},
                                                                      **by_state), limit=200),
                  key=lambda run: run.created)


def loaded(client: Any, run: Any) -> bool:
    """Whether flow run `run` has read its data (its load_data stage ended)."""
    from prefect.client.schemas.filters import FlowRunFilterId, TaskRunFilter, TaskRunFilterName

    stages = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])),
                                   task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="load_data")))
    return any(stage.state is not None and stage.state.is_final() for stage in stages)


def finished(client: Any, runs: list[Any]) -> list[Any] | None:
    """`runs` read again, once every one of them has ended."""
    now = [client.read_flow_run(run.id) for run in runs]
    return now if all(run.state.is_final() for run in now) else None


def test_changed_data_starts_one_run_per_change_and_nothing_else(
    prefect_server: RealServer, project: Path, s3_server: S3Server, tmp_path: Path
):
    data = tmp_path / "data"
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    spec.pop("schedule")
    spec["trigger"] = {"on": "data", "poll": f"{POLL}s", "debounce": "0s"}
    prefix = f"{BUCKET}/{tmp_path.name}"
    bucket = s3_server.filesystem()
    for path in data.iterdir():
        bucket.put_file(str(path), f"{prefix}/{path.name}")
    objects = {**spec, "data": {**spec["data"], "files": {split: f"s3://{prefix}/{split}.csv"
                                                         for split in ("train", "validation", "test")}}}
    incoming = data / "incoming"  # the local pipeline trains on a folder: every file in it
    incoming.mkdir()
    (data / "train.csv").rename(incoming / "part-1.csv")
    spec["data"] = {**spec["data"], "files": {**spec["data"]["files"], "train": "../data/incoming/"}}
    write_pipelines(project, {"files": spec, "objects": objects})
    env = prefect_server.env(**s3_server.env(str(tmp_path / "home"), tmp_path / "cache"),
                             PREFECT_RUNNER_POLL_FREQUENCY="2")
    serving = subprocess.Popen([str(BIN / "modelmill"), "serve"], cwd=project, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
            # given both pipelines served with their watchers, which have had a first look at the data
            def polls(name: str) -> int:
                """How many polls of the pipeline's watcher have ended (its schedule has created many more)."""
                return len(runs_of(client, f"watch-data/{name}", "COMPLETED"))

            wait_for(lambda: polls("files") and polls("objects"), 240, "the watchers' first look", prefect_server)
            # when the same bytes are written again (a new mtime, the same content and ETag)
            (incoming / "part-1.csv").write_bytes((incoming / "part-1.csv").read_bytes())
            bucket.pipe_file(f"{prefix}/test.csv", (data / "test.csv").read_bytes())
            looked = polls("files"), polls("objects")
            wait_for(lambda: polls("files") >= looked[0] + 2 and polls("objects") >= looked[1] + 2, 120,
                     "two more polls", prefect_server)
            # then nothing starts
            assert runs_of(client, "finetune/files") == [] and runs_of(client, "finetune/objects") == []

            # when a new file lands in the watched folder and an object changes
            write_csv(incoming / "part-2.csv", review_rows(11, 40))
            bucket.pipe_file(f"{prefix}/test.csv", (data / "test.csv").read_bytes() + b"an extra review,positive\n")
            changed = time.monotonic()
            started = wait_for(lambda: len(runs := [*runs_of(client, "finetune/files"),
                                                    *runs_of(client, "finetune/objects")]) == 2 and runs,
                               2 * POLL + 30, "a run of each pipeline", prefect_server)
            # then each pipeline starts one run, which says why it started
            print(f"runs started {time.monotonic() - changed:.0f} s after the change (poll {POLL} s)")
            assert all(run.parameters["note"].startswith("data changed (change ") for run in started), started
            first = runs_of(client, "finetune/files")[0]
            wait_for(lambda: loaded(client, first), 180, "the first retrain to read its data", prefect_server)

            # when, during that retrain (its data read), a burst of changes lands within a 20 s debounce
            during = client.read_flow_run(first.id).state.name
            spec["trigger"]["debounce"] = "20s"
            write_pipelines(project, {"files": spec, "objects": objects})
            for fewer in (1, 2, 3):  # rows dropped one by one from the new file (no new text to check)
                write_csv(incoming / "part-2.csv", review_rows(11, 40)[:-fewer])
                time.sleep(2)
            # then, once it has settled, one run starts, after the running retrain
            burst = wait_for(lambda: len(runs := runs_of(client, "finetune/files")) >= 2 and runs, 20 + 3 * POLL + 60,
                             "the burst's run", prefect_server)
            done = wait_for(lambda: finished(client, burst), 300, "the retrains to end", prefect_server)
            assert [run.state.name for run in done] == ["Completed", "Completed"], [(r.name, r.state) for r in done]
            assert done[1].start_time >= done[0].end_time, "one run at a time: the second waited for the first"
            print(f"the burst began while the first retrain was {during}")

            # when one change is announced a hundred times (a retried poll, a second watcher)
            emitted = subprocess.run([str(BIN / "python"), "-c", ANNOUNCE_100], env=prefect_server.env(),
                                     capture_output=True, text=True, timeout=patient(120))
            assert emitted.returncode == 0, emitted.stderr
            # then it starts one run
            wait_for(lambda: len(runs_of(client, "finetune/objects")) >= 2, 90, "the announced change's run",
                     prefect_server)
            time.sleep(patient(POLL))
            assert len(runs_of(client, "finetune/objects")) == 2
            assert len(runs_of(client, "finetune/files")) == 2, "nothing else started"
            wait_for(lambda: finished(client, runs_of(client, "finetune/objects")), 300, "the runs to end",
                     prefect_server)
    finally:
        output = stop_serving(serving)
        print("\n".join(line for line in output.splitlines() if "data" in line)[-6000:])  # the watchers' decisions
