"""The `deploy` section: job variables checked against the pool's base job template before anything is deployed,
and the shipped Kubernetes template wiring GPUs, node selector and tolerations into the pod spec."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from deployments.pools import job_variables, pool_variables
from modelmill.config import PipelineSpec
from modelmill.runtime.errors import ConfigError
from tests.conftest import pipeline_dict

TEMPLATE = Path(__file__).parents[2] / "deploy" / "kubernetes" / "base-job-template.json"


def spec_with(tiny_model_dir: Path, review_files, **deploy) -> PipelineSpec:
    return PipelineSpec.model_validate({**pipeline_dict(tiny_model_dir, review_files), "deploy": deploy})


def pool(template: dict, name: str = "gpu", kind: str = "kubernetes") -> SimpleNamespace:
    return SimpleNamespace(name=name, type=kind, base_job_template=template)


def shipped() -> dict:
    return json.loads(TEMPLATE.read_text())


def test_the_shipped_template_keeps_every_stock_variable_and_adds_the_gpu_ones():
    from prefect_kubernetes.worker import KubernetesWorker

    stock = set(KubernetesWorker.get_default_base_job_template()["variables"]["properties"])
    assert set(pool_variables(pool(shipped()))) == stock | {"gpu_limit", "node_selector", "tolerations", "secret_env",
                                                           "env_from", "image_pull_secrets", "runtime_class_name",
                                                           "shm_size"}


def test_declared_job_variables_image_and_the_shared_settings_go_to_the_deployment(tiny_model_dir, review_files):
    spec = spec_with(tiny_model_dir, review_files, work_pool="gpu", image="registry.example/modelmill:cuda",
                     job_variables={"gpu_limit": 1, "env": {"EXTRA": "1"}})
    found = job_variables("pipelines.yaml: tiny", spec, pool(shipped()), {"MODELMILL_HOME": "s3://b/home"})
    assert found == {"gpu_limit": 1, "image": "registry.example/modelmill:cuda",
                     "env": {"MODELMILL_HOME": "s3://b/home", "EXTRA": "1"}}


def test_a_job_variable_the_pool_does_not_define_is_an_error_naming_its_yaml_path_and_the_pool_variables(
    tiny_model_dir, review_files
):
    from prefect_kubernetes.worker import KubernetesWorker

    stock = pool(KubernetesWorker.get_default_base_job_template(), name="k8s")
    spec = spec_with(tiny_model_dir, review_files, job_variables={"gpu_limit": 1})
    with pytest.raises(ConfigError) as refused:
        job_variables("pipelines.yaml: tiny", spec, stock, {})
    message = str(refused.value)
    assert message.startswith("pipelines.yaml: tiny.deploy.job_variables.gpu_limit: work pool 'k8s' (kubernetes) "
                              "defines no job variable 'gpu_limit'; its variables: ")
    assert "cpu_limit" in message and "image" in message


def test_an_image_on_a_pool_without_images_is_an_error_at_deploy_image(tiny_model_dir, review_files):
    process_pool = pool({"variables": {"properties": {"env": {}, "working_dir": {}}}}, name="local", kind="process")
    spec = spec_with(tiny_model_dir, review_files, image="registry.example/modelmill:cpu")
    with pytest.raises(ConfigError, match=r"tiny\.deploy\.image: work pool 'local' \(process\) defines no job "
                                          r"variable 'image'; its variables: env, working_dir"):
        job_variables("pipelines.yaml: tiny", spec, process_pool, {})


@pytest.mark.parametrize("deploy, message", [
    ({"work_pool": "gpu pool"}, "work_pool"),
    ({"pool": "gpu"}, "pool"),
])
def test_a_bad_deploy_section_is_refused_at_load(tiny_model_dir, review_files, deploy, message):
    with pytest.raises(ValueError, match=message):
        spec_with(tiny_model_dir, review_files, **deploy)


def test_the_shipped_template_renders_gpus_node_selector_and_tolerations_into_the_pod(prefect):
    import anyio
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    values = {"gpu_limit": 2, "node_selector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
              "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
              "image": "registry.example/modelmill:cuda"}
    config = anyio.run(KubernetesWorkerJobConfiguration.from_template_and_values, shipped(), values)
    pod = config.job_manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": 2}
    assert container["image"] == "registry.example/modelmill:cuda"
    assert pod["nodeSelector"] == values["node_selector"] and pod["tolerations"] == values["tolerations"]
    cpu_only = anyio.run(KubernetesWorkerJobConfiguration.from_template_and_values, shipped(), {})
    assert "nvidia.com/gpu" not in cpu_only.job_manifest["spec"]["template"]["spec"]["containers"][0]["resources"][
        "limits"], "no GPU requested unless asked"


@pytest.mark.parametrize("name", ["Dockerfile.cpu", "Dockerfile.cuda"])
def test_the_images_install_the_tested_torch_and_the_project_with_its_constraints(name):
    root = Path(__file__).parents[2]
    makefile_torch = next(line.split("?=")[1].strip() for line in (root / "Makefile").read_text().splitlines()
                          if line.startswith("TORCH ?="))
    dockerfile = (root / "docker" / name).read_text()
    assert f'pip install "{makefile_torch}" --index-url https://download.pytorch.org/whl/' in dockerfile
    # every extra the project offers (but the tests' and the documentation site's), with the tested versions of all
    # that is not torch
    import re
    import tomllib

    extras_offered = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    offered = set(extras_offered) - {"test", "docs"}
    [(constraints, extras)] = re.findall(r'pip install -c (\S+) "\.\[([a-z0-9,]+)\]"', dockerfile)
    assert set(extras.split(",")) == offered
    torch_pin = next(line for line in (root / "constraints.txt").read_text().splitlines() if line.startswith("torch=="))
    if "cuda" in name:  # the CPU build's pin would refuse the CUDA torch the image installed
        assert constraints != "constraints.txt" and f"grep -v '^torch==' constraints.txt > {constraints}" in dockerfile
    else:
        assert constraints == "constraints.txt" and torch_pin.endswith("+cpu")
    assert "MODELMILL_PROJECT_ROOT=/project" in dockerfile, "runs enter the project folder baked into the image"
    assert ".venv" in (root / ".dockerignore").read_text().split()


def test_the_shipped_template_takes_secrets_pull_secrets_a_runtime_class_and_a_shared_memory_volume(prefect):
    import anyio
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    values = {"secret_env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}],
              "env_from": [{"secretRef": {"name": "object-store"}}], "image_pull_secrets": [{"name": "registry"}],
              "runtime_class_name": "nvidia", "shm_size": "8Gi", "env": {"MODELMILL_HOME": "s3://b/h"}}
    config = anyio.run(KubernetesWorkerJobConfiguration.from_template_and_values, shipped(), values)
    config._populate_env_in_manifest()  # what the worker does before it submits the job
    pod = config.job_manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"name": "MODELMILL_HOME", "value": "s3://b/h"} in container["env"], "Prefect's settings still reach it"
    assert values["secret_env"][0] in container["env"] and container["envFrom"] == values["env_from"]
    assert pod["imagePullSecrets"] == [{"name": "registry"}] and pod["runtimeClassName"] == "nvidia"
    assert container["volumeMounts"] == [{"name": "dshm", "mountPath": "/dev/shm"}]
    assert pod["volumes"] == [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}]
    default = anyio.run(KubernetesWorkerJobConfiguration.from_template_and_values, shipped(), {})
    default_pod = default.job_manifest["spec"]["template"]["spec"]
    assert "runtimeClassName" not in default_pod and default_pod["volumes"][0]["emptyDir"]["sizeLimit"] == "2Gi"


def test_a_pool_saved_without_a_template_is_checked_against_its_worker_default(tiny_model_dir, review_files):
    spec = spec_with(tiny_model_dir, review_files)
    bare = pool({}, name="local", kind="process")
    assert job_variables("pipelines.yaml: tiny", spec, bare, {"MODELMILL_HOME": "h"}) == {"env": {"MODELMILL_HOME": "h"}}
    with pytest.raises(ConfigError, match="no worker of type 'nowhere' is installed here"):
        job_variables("pipelines.yaml: tiny", spec, pool({}, kind="nowhere"), {})


def test_the_settings_runs_share_are_passed_but_never_a_lock_password():
    from deployments.pipelines import shared_settings

    said: list[str] = []
    environ = {"MODELMILL_HOME": "s3://b/h", "MODELMILL_STORAGE_OPTIONS": "{}", "MODELMILL_LOCKS": "redis://r:6379/0",
               "MODELMILL_RAY_ADDRESS": "10.0.0.5:6379", "AWS_SECRET_ACCESS_KEY": "never"}
    assert shared_settings(environ, said.append) == {k: environ[k] for k in list(environ)[:4]} and not said
    with_password = {**environ, "MODELMILL_LOCKS": "redis://:s3cret@r:6379/0"}
    assert "MODELMILL_LOCKS" not in shared_settings(with_password, said.append)
    assert said and "s3cret" not in said[0]
