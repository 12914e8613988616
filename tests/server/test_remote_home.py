"""One home on object storage shared by machines that share nothing else (moto's S3 server and a real Prefect
server on 127.0.0.1): a second machine's run is all cache hits and can load the model; an output whose marker is
gone re-runs its stage alone; a worker's deployment run keeps everything in the bucket; no `s3:` folder appears."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter
from prefect.settings import PREFECT_API_URL, temporary_settings

from modelmill.storage.home import COMPLETE
from tests.object_store import S3Server
from tests.patience import patient
from tests.server.conftest import BIN, RealServer, write_pipelines

STAGES = ("load_data", "validate_data", "tokenize", "train", "evaluate", "push")
OUTPUT_STAGES = ("data", "validation", "tokenized", "train", "evaluate", "push")  # folders under artifacts/


CANARY = "canary-object-store-secret-5be1"  # moto takes any credentials: none may be written anywhere


def machine(server: RealServer, s3: S3Server, home: str, folder: Path, **extra: str) -> dict[str, str]:
    """The environment of one machine: its own Prefect home and read cache, the shared server and home."""
    return server.env(PREFECT_HOME=str(folder / "prefect-home"),
                      **{**s3.env(home, folder / "cache"), "AWS_SECRET_ACCESS_KEY": CANARY}, **extra)


def holding(text: str, *roots: Path) -> list[Path]:
    return [path for root in roots for path in root.rglob("*")
            if path.is_file() and text.encode() in path.read_bytes()]


def run(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN / "modelmill"), "run", "tiny", *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=patient(400))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def cached_stages(output: str) -> set[str]:
    """The stages the run summary says were cached."""
    lines = [line for line in output.splitlines() if line.startswith("Cached stages: ")]
    return {name.strip() for name in lines[0].removeprefix("Cached stages: ").split(",")} if lines else set()


def s3_folders(*roots: Path) -> list[Path]:
    """Local folders whose name is a URL's scheme: what Prefect or transformers make of a URL taken for a path."""
    return [path for root in roots for path in root.rglob("*") if path.name in ("s3:", "s3")]


def published_outputs(s3: S3Server, home: str) -> dict[str, list[str]]:
    fs = s3.filesystem()
    root = home.removeprefix("s3://")
    markers = fs.glob(f"{root}/artifacts/*/*/*/{COMPLETE}")
    found: dict[str, list[str]] = {}
    for marker in markers:
        stage = marker.removeprefix(root + "/artifacts/").split("/")[0]
        found.setdefault(stage, []).append(marker.rsplit("/", 1)[0])
    return found


def test_two_machines_share_one_remote_home(prefect_server, s3_server, project: Path, tmp_path: Path):
    home = s3_server.new_home()
    first = machine(prefect_server, s3_server, home, tmp_path / "machine-a")
    second = machine(prefect_server, s3_server, home, tmp_path / "machine-b")
    # given one run on the first machine
    out = run(project, first)
    assert cached_stages(out) == set(), out
    assert out.count("MODELMILL_LOCKS is not set") == 1, "without Redis, the run says once that machines may race"
    outputs = published_outputs(s3_server, home)
    assert set(outputs) == set(OUTPUT_STAGES), outputs
    assert s3_server.filesystem().find(f"{home.removeprefix('s3://')}/prefect-results"), "results live in the home"
    # when the second machine (another Prefect home, another read cache) runs the same pipeline
    out = run(project, second)
    # then every stage is a cache hit
    assert cached_stages(out) >= set(STAGES), out
    # and the second machine loads the model through its read cache
    (model,) = outputs["train"]
    load = subprocess.run(
        [str(BIN / "python"), "-c",
         "import sys; from pathlib import Path; from modelmill.storage.home import local_copy;"
         "from transformers import AutoModelForSequenceClassification as M;"
         "path = local_copy(Path(sys.argv[1])); M.from_pretrained(str(path)); print(path)",
         model.split("/", 2)[2]],
        env=second, capture_output=True, text=True, timeout=patient(120), cwd=project,
    )
    assert load.returncode == 0, load.stderr
    assert Path(load.stdout.strip()).is_relative_to(tmp_path / "machine-b" / "cache")
    # when the push output loses its completion marker (an upload cut short looks the same)
    (pushed,) = outputs["push"]
    s3_server.filesystem().rm(f"{pushed}/{COMPLETE}")
    out = run(project, second)
    # then that stage alone runs again
    assert cached_stages(out) >= set(STAGES) - {"push"} and "push" not in cached_stages(out), out
    # and no URL was taken for a local folder anywhere
    assert s3_folders(tmp_path, project) == []
    # and the object store's secret is nowhere: not in the bucket, the machines' folders or the server's database
    fs = s3_server.filesystem()
    assert [key for key in fs.find(home.removeprefix("s3://")) if CANARY.encode() in fs.cat_file(key)] == []
    assert holding(CANARY, tmp_path, project, prefect_server.home) == []


def test_a_worker_keeps_everything_in_the_bucket(prefect_server, s3_server, project: Path, tmp_path: Path):
    home = s3_server.new_home()
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    write_pipelines(project, {"tiny_remote": spec})
    deployer = machine(prefect_server, s3_server, home, tmp_path / "deployer")
    deployed = subprocess.run([str(BIN / "modelmill"), "deploy", "--pool", "remote-pool"], cwd=project, env=deployer,
                              capture_output=True, text=True, timeout=patient(300))
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    started = prefect_server.cli("deployment", "run", "finetune/tiny_remote", "--flow-run-name", "remote by worker")
    assert started.returncode == 0, started.stdout + started.stderr
    # a worker on another machine: its own Prefect home and read cache; the home comes from the deployment
    worker_env = machine(prefect_server, s3_server, home, tmp_path / "worker")
    worker_env.pop("MODELMILL_HOME")
    worker = subprocess.run([str(BIN / "prefect"), "worker", "start", "--pool", "remote-pool", "--run-once"],
                            cwd=project, env={**worker_env, "PWD": str(project)}, capture_output=True, text=True,
                            timeout=patient(400))
    assert worker.returncode == 0, worker.stdout + worker.stderr
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name={"any_": ["remote by worker"]}))
        assert [r.state.name for r in runs] == ["Completed"], [r.state for r in runs]
    assert set(published_outputs(s3_server, home)) == set(OUTPUT_STAGES)
    assert s3_folders(tmp_path, project) == []


def test_two_machines_starting_one_pipeline_at_once_train_once_with_redis_locks(
    prefect_server, s3_server, redis_url, project: Path, tmp_path: Path
):
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    spec["train"].update(max_steps=300, eval_strategy="steps", eval_steps=300, logging_steps=50)
    write_pipelines(project, {"tiny": spec})
    home = s3_server.new_home()
    machines = [machine(prefect_server, s3_server, home, tmp_path / name, MODELMILL_LOCKS=redis_url)
                for name in ("machine-a", "machine-b")]
    runs = [subprocess.Popen([str(BIN / "modelmill"), "run", "tiny"], cwd=project, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for env in machines]
    outputs = [process.communicate(timeout=patient(400))[0] for process in runs]
    assert [process.returncode for process in runs] == [0, 0], "\n".join(outputs)
    assert sum("train" in cached_stages(out) for out in outputs) == 1, "one trained, the other waited and reused it"
    assert len(published_outputs(s3_server, home)["train"]) == 1, "one model published for the key"
    assert all("MODELMILL_LOCKS is not set" not in out for out in outputs)
