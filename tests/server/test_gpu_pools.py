"""`modelmill deploy` to a Kubernetes work pool made from the shipped template, on a real Prefect server on
127.0.0.1: the pipeline's image and job variables reach the deployment and render into the pod; a variable the
pool does not define stops the deploy before anything is created."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import anyio
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.patience import patient
from tests.server.conftest import BIN, RealServer, write_pipelines

TEMPLATE = Path(__file__).parents[2] / "deploy" / "kubernetes" / "base-job-template.json"
GPU = {"gpu_limit": 1, "node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100"},
       "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}


def deploy(server: RealServer, project: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "modelmill"), "deploy"], cwd=project, capture_output=True, text=True,
                          timeout=patient(300), env=server.env(MODELMILL_HOME=str(tmp_path / "home")))


@pytest.fixture
def gpu_pool(prefect_server: RealServer) -> str:
    """The README's `prefect work-pool create gpu-nodes --type kubernetes --base-job-template ...`, through the
    client API: for the CLI, the server looks up Prefect's worker registry on GitHub, which this suite forbids."""
    template = json.loads(TEMPLATE.read_text())
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        try:
            client.read_work_pool("gpu-nodes")
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name="gpu-nodes", type="kubernetes", base_job_template=template))
    return "gpu-nodes"


def test_a_pipeline_deploys_to_a_gpu_pool_with_its_image_and_gpu_variables(prefect_server, gpu_pool, project,
                                                                           tmp_path):
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    spec["deploy"] = {"work_pool": gpu_pool, "image": "registry.example/modelmill:cuda", "job_variables": GPU}
    write_pipelines(project, {"tiny_gpu": spec})
    done = deploy(prefect_server, project, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Deployed finetune/tiny_gpu to work pool 'gpu-nodes'." in done.stdout
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("finetune/tiny_gpu")
        pool = client.read_work_pool(gpu_pool)
    assert deployment.work_pool_name == gpu_pool
    variables = deployment.job_variables
    assert {key: variables[key] for key in GPU} == GPU and variables["image"] == "registry.example/modelmill:cuda"
    assert variables["env"]["MODELMILL_HOME"] == str(tmp_path / "home")
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
        config = anyio.run(KubernetesWorkerJobConfiguration.from_template_and_values, pool.base_job_template,
                           variables)
    pod = config.job_manifest["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["nodeSelector"] == GPU["node_selector"] and pod["tolerations"] == GPU["tolerations"]


def test_an_unknown_job_variable_stops_the_deploy_before_anything_is_created(prefect_server, gpu_pool, project,
                                                                             tmp_path):
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    spec["deploy"] = {"work_pool": gpu_pool, "job_variables": {"gpus": 1}}
    write_pipelines(project, {"tiny_typo": spec})
    done = deploy(prefect_server, project, tmp_path)
    assert done.returncode != 0
    assert ("tiny_typo.deploy.job_variables.gpus: work pool 'gpu-nodes' (kubernetes) defines no job variable "
            "'gpus'; its variables: ") in done.stderr, done.stderr
    assert "gpu_limit" in done.stderr and "Traceback" not in done.stderr
    with temporary_settings({PREFECT_API_URL: prefect_server.api_url}), get_client(sync_client=True) as client:
        with pytest.raises(ObjectNotFound):
            client.read_deployment_by_name("finetune/tiny_typo")


def test_a_pool_the_file_names_must_exist(prefect_server, project, tmp_path):
    spec = yaml.safe_load((project / "pipelines.yaml").read_text())["pipelines"]["tiny"]
    spec["deploy"] = {"work_pool": "no-such-pool"}
    write_pipelines(project, {"tiny_nowhere": spec})
    done = deploy(prefect_server, project, tmp_path)
    assert done.returncode != 0
    assert "work pool 'no-such-pool' does not exist on the server; create it first" in done.stderr, done.stderr
