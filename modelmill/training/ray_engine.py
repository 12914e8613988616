"""Training on a Ray cluster (`train.engine: ray`): Ray Train's `TorchTrainer` runs `fine_tune` in every worker, as
torchrun does on one node. Ray sets up the process group; rank 0 saves and publishes the model and reports its
manifest as a Ray checkpoint, which the train task reads from the result (Ray's storage is under the home). The
cluster is `MODELMILL_RAY_ADDRESS`: `auto` starts a local one on 127.0.0.1 for this stage and stops it after.

Several nodes need a home they all reach (an fsspec URL): a local home is refused before any worker starts.
The worker function imports no Prefect and never the flow file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from modelmill.config import ModelSpec, TrainSpec
from modelmill.manifests import ModelManifest, TokenizedManifest
from modelmill.runtime.environment import environment
from modelmill.runtime.errors import ConfigError
from modelmill.search.pruning import TrialHandle
from modelmill.training.processes import TrainingProcessFailed, without_token
from modelmill.training.worker import TrainingJob

LOCAL_CLUSTER = "auto"
# a local cluster is one machine: Ray's single-host mode binds and advertises 127.0.0.1 (its default is the address
# of the route to the internet), and reports no usage statistics
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
# Ray's dashboard process asks cloud metadata endpoints (plain HTTP) which cloud it runs on, even with usage
# statistics off: the processes of a local cluster send plain HTTP to a closed loopback port instead (unless a proxy
# is configured), loopback itself excepted
MANIFEST = "manifest.json"  # what rank 0 reports as its checkpoint: the model's manifest (the model is in the home)
CLOSED_PROXY = "http://127.0.0.1:9"
NO_PROXY = "127.0.0.1,localhost,::1"
# settings a worker on another node needs to find the same home (credentials: the node's own environment)
SHARED_SETTINGS = ("MODELMILL_HOME", "MODELMILL_STORAGE_OPTIONS", "MODELMILL_PROJECT_ROOT", "HF_HUB_OFFLINE")


def shared_settings() -> dict[str, str]:
    """This process's values of the settings a worker needs to find the home."""
    return {name: os.environ[name] for name in SHARED_SETTINGS if name in os.environ}


class RayClusterError(ConfigError):
    """The Ray cluster cannot run this training as configured."""


def ray_module() -> Any:
    """`ray`, or an error that says which extra to install."""
    try:
        import ray
    except ImportError:
        raise ConfigError("train.engine: ray needs Ray: pip install 'modelmill[ray]'") from None
    return ray


def bind_loopback_ports() -> None:
    """Setup hook of every worker of a local cluster, a cluster that is this one machine: Ray Train finds the
    rendezvous port by binding every interface, and torch's rendezvous store (a TCPStore, whose server binds the
    wildcard address whatever MASTER_ADDR says) listens on every interface; here the port is found on loopback,
    the store is a file the workers share, and gloo's connections use the loopback interface."""
    import socket
    from contextlib import closing

    import ray._common.network_utils as network
    import ray.train._internal.utils as train_utils

    def find_free_port(family: socket.AddressFamily = socket.AF_INET) -> int:
        with closing(socket.socket(family, socket.SOCK_STREAM)) as probe:
            probe.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
            return probe.getsockname()[1]

    network.find_free_port = train_utils.find_free_port = find_free_port
    if "lo" in {name for _, name in socket.if_nameindex()}:
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    rendezvous_in_files()


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def rendezvous_in_files() -> None:
    """torch's env:// and tcp:// rendezvous on a loopback address get a FileStore under the temporary folder (one
    per Ray job and port: every worker of this machine's cluster opens the same file) instead of a TCPStore."""
    import importlib

    import torch.distributed as dist

    rendezvous = importlib.import_module("torch.distributed.rendezvous")  # the package's `rendezvous` is a function

    create = rendezvous._create_c10d_store
    if getattr(create, "modelmill_files", False):
        return

    def loopback_store(hostname: str, port: int, rank: int, world_size: int, timeout: Any, use_libuv: bool = True
                       ) -> Any:
        if hostname not in LOOPBACK_HOSTS:
            return create(hostname, port, rank, world_size, timeout, use_libuv)
        import ray

        job = ray.get_runtime_context().get_job_id()
        path = Path(tempfile.gettempdir()) / f"modelmill-rendezvous-{os.getuid()}-{job}-{port}"
        store = dist.FileStore(str(path), world_size)
        store.set_timeout(timeout)
        return store

    loopback_store.modelmill_files = True  # type: ignore[attr-defined]
    rendezvous._create_c10d_store = loopback_store


def start_local_cluster(ray: Any) -> None:
    """A Ray cluster on this machine for this stage: loopback only, no dashboard, no usage statistics."""
    import ray._private.ray_constants as constants

    proxy = os.environ.get("http_proxy") or os.environ.get("HTTP_PROXY") or CLOSED_PROXY
    no_proxy = ",".join(filter(None, [os.environ.get("no_proxy") or os.environ.get("NO_PROXY"), NO_PROXY]))

    single_host = constants.ENABLE_RAY_CLUSTER  # read from the environment when Ray was imported (Prefect may have)
    constants.ENABLE_RAY_CLUSTER = False  # this driver's address: loopback, as its processes read from LOOPBACK_ENV
    try:
        with environment(http_proxy=proxy, HTTP_PROXY=proxy, no_proxy=no_proxy, NO_PROXY=no_proxy):
            ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False,
                     configure_logging=False,
                     runtime_env={"worker_process_setup_hook": f"{__name__}.bind_loopback_ports"})
    finally:
        constants.ENABLE_RAY_CLUSTER = single_host


@contextmanager
def ray_cluster(address: str) -> Iterator[Any]:
    """Connected to the cluster at `address` (`auto`: a new local one, on loopback, stopped on exit)."""
    if address == LOCAL_CLUSTER:
        os.environ.update(LOOPBACK_ENV)  # before Ray is imported: it reads them once; its processes inherit them
    ray = ray_module()
    if ray.is_initialized():
        yield ray
        return
    if address == LOCAL_CLUSTER:
        start_local_cluster(ray)
    else:
        ray.init(address=address, runtime_env={"env_vars": shared_settings()}, log_to_driver=False,
                 configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def alive_nodes(ray: Any) -> list[dict[str, Any]]:
    return [node for node in ray.nodes() if node.get("Alive")]


def check_cluster(ray: Any, spec: TrainSpec, address: str, remote_home: bool) -> bool:
    """Whether workers get a GPU; refuse a local home on several nodes and more GPUs than the cluster has."""
    nodes = alive_nodes(ray)
    if len(nodes) > 1 and not remote_home:
        raise RayClusterError(
            f"the Ray cluster at MODELMILL_RAY_ADDRESS={address} has {len(nodes)} nodes, and the home "
            f"(MODELMILL_HOME) is a local folder that workers on the other nodes cannot reach: set MODELMILL_HOME to "
            "object storage (s3://bucket/prefix, gs://, abfs://)"
        )
    gpus = int(ray.cluster_resources().get("GPU", 0))
    workers = spec.ray.num_workers
    if spec.ray.use_gpu is True and gpus < workers:
        raise RayClusterError(f"train.ray.use_gpu: true needs {workers} GPU(s); the Ray cluster at {address} has "
                              f"{gpus}")
    if spec.batch_size % workers:
        raise ConfigError(f"train.batch_size {spec.batch_size} cannot be split between {workers} Ray workers "
                          f"(train.ray.num_workers): use a multiple of {workers}")
    return gpus >= workers if spec.ray.use_gpu == "auto" else bool(spec.ray.use_gpu)


def train_worker(config: dict[str, Any]) -> None:
    """What every Ray worker runs: `fine_tune` with the process group Ray set up; rank 0 reports its manifest."""
    import ray.train
    import torch
    import torch.distributed as dist

    from modelmill.training.fine_tune import fine_tune
    from modelmill.training.remote_checkpoints import restore_checkpoint

    job = TrainingJob.model_validate_json(config["job"])
    context = ray.train.get_context()
    torch.set_num_threads(config["threads"])
    if context.get_local_rank() == 0:  # one copy per node of the checkpoint a failed attempt uploaded
        restore_checkpoint(job.output.parent.name, job.workdir / "checkpoints")
    if dist.is_initialized():
        dist.barrier()
    manifest = fine_tune(job.tokens, job.model, job.spec, job.workdir, job.output, keep_workdir=True, trial=job.trial)
    if context.get_world_rank() != 0:
        ray.train.report({})
        return
    with tempfile.TemporaryDirectory(prefix="modelmill-manifest-") as folder:  # Ray keeps it in its storage
        (Path(folder) / MANIFEST).write_text(manifest.model_dump_json(), encoding="utf-8")
        ray.train.report({"step": manifest.history[-1].get("step", 0) if manifest.history else 0},
                         checkpoint=ray.train.Checkpoint.from_directory(folder))


def worker_failure(error: BaseException, workers: int) -> TrainingProcessFailed:
    """The failing worker's own error (Ray wraps it with the rank that raised it), without the token."""
    failures = getattr(error, "worker_failures", None) or {}
    if failures:
        rank, cause = min(failures.items())
        what = f"{type(cause).__name__}: {cause}".strip().splitlines()[-1]
    else:
        rank, what = "?", f"{type(error).__name__}: {error}".strip().splitlines()[0]
    what = without_token(what)
    return TrainingProcessFailed(f"Ray training worker {rank} of {workers} failed: {what}",
                                 reason=f"Ray training worker {rank} of {workers} failed: {what}")


def storage(home: Any, key: str) -> tuple[str, Any]:
    """Where Ray keeps its run state: under the home (through the home's fsspec filesystem when remote)."""
    if not home.remote:
        return str(home.local / "ray" / key), None
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    return home.url(Path("ray") / key).split("://", 1)[-1], PyFileSystem(FSSpecHandler(home.fs))


def train_on_ray(tokens: TokenizedManifest, model: ModelSpec, spec: TrainSpec, workdir: Path, output: Path,
                 log: Any = None, trial: TrialHandle | None = None) -> ModelManifest:
    """Run `fine_tune` on `train.ray.num_workers` Ray workers; return rank 0's manifest or the failing worker's
    error. Ray does not retry: the task's retries resume from the last checkpoint, as in one process."""
    from modelmill.storage.home import current_home
    from modelmill.storage.settings import get_settings

    address, home, workers = get_settings().ray_address, current_home(), spec.ray.num_workers
    with ray_cluster(address) as ray:
        from ray.train import FailureConfig, RunConfig, ScalingConfig
        from ray.train.torch import TorchTrainer

        use_gpu = check_cluster(ray, spec, address, home.remote)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        threads = max(1, cpus // workers) if address == LOCAL_CLUSTER else 1
        path, filesystem = storage(home, output.parent.name)
        job = TrainingJob(tokens=tokens, model=model, spec=spec, workdir=workdir, output=output, trial=trial)
        trainer = TorchTrainer(
            train_worker,
            train_loop_config={"job": job.model_dump_json(), "threads": threads},
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu,
                                         resources_per_worker={"CPU": threads}),
            run_config=RunConfig(name=output.name, storage_path=path, storage_filesystem=filesystem,
                                 failure_config=FailureConfig(max_failures=0)),
        )
        try:
            result = trainer.fit()
        except Exception as exc:  # noqa: BLE001 - Ray's TrainingFailedError carries each worker's own error
            raise worker_failure(exc, workers) from None
        if result.error is not None:
            raise worker_failure(result.error, workers)
    with result.checkpoint.as_directory() as folder:
        manifest = ModelManifest.model_validate_json((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    if log is not None:
        log.info("Trained on Ray (%s): %d worker(s), %s, %d CPU thread(s) each", address, workers,
                 "a GPU each" if use_gpu else "CPU", threads)
    return manifest.model_copy(update={"device": f"{manifest.device.split(' x ')[0]} x {workers} Ray workers"})
