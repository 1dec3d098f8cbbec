"""The Kubernetes deployment (deploy/kubernetes): Dagster's own schemas accept its instance config, and the
worker pods run `meshmill worker` on the right queues, one GPU each."""

from __future__ import annotations

import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config
from dagster_k8s import K8sRunLauncher

from orchestration.celery_config import QUEUES
from tests.support import ROOT

DEPLOY = ROOT / "deploy" / "kubernetes"


def test_dagsters_schemas_accept_the_instance_config(monkeypatch):
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        monkeypatch.setenv(name, "set-by-the-cluster")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    config, _ = dagster_instance_config(str(DEPLOY))  # the instance schema, as every Dagster process reads it
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    checked = validate_config(K8sRunLauncher.config_type(), launcher["config"])
    assert checked.success, checked.errors
    wrong = validate_config(K8sRunLauncher.config_type(), {**launcher["config"], "gpus": 1})  # the check can fail
    assert not wrong.success
    assert config["concurrency"]["pools"]["default_limit"] >= 1


def test_gpu_workers_take_one_gpu_each_and_every_queue_is_served():
    deployments = [d for d in yaml.safe_load_all((DEPLOY / "meshmill-workers.yaml").read_text()) if d]
    queues = {}
    for deployment in deployments:
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        command = container["command"]
        assert command[:2] == ["meshmill", "worker"]
        queue = command[command.index("--queue") + 1]
        queues[queue] = container["resources"]["limits"].get("nvidia.com/gpu")
    assert queues == {"gpu": 1, "cpu": None} and set(queues) == set(QUEUES)
