"""The deployment files agree with each other and with the process they start: what no
deployment here runs (Kubernetes, docker compose, systemd) is at least held to the same
numbers and names as what the topology test does run."""

import re
import subprocess

import yaml

from tests.deploy.conftest import DEPLOY_DIR, DEPLOYMENT_SETTINGS, NGINX_TEMPLATE, read_env_file
from tests.servers import ENTRYPOINT, REPO_DIR

GRACEFUL_SHUTDOWN_SECONDS = int(read_env_file(DEPLOYMENT_SETTINGS)["GRACEFUL_SHUTDOWN_SECONDS"])


def _kubernetes(name: str) -> list[dict]:
    return list(yaml.safe_load_all((DEPLOY_DIR / "kubernetes" / name).read_text()))


def _py_auth_pod() -> dict:
    (deployment,) = [doc for doc in _kubernetes("py-auth.yaml") if doc["kind"] == "Deployment"]
    return deployment["spec"]["template"]["spec"]


def _unit_value(unit: str, key: str) -> str:
    text = (DEPLOY_DIR / "systemd" / unit).read_text()
    (value,) = re.findall(rf"^{key}=(.*)$", text, flags=re.MULTILINE)
    return value


def test_kubernetes_waits_for_the_prestop_pause_and_the_graceful_shutdown_before_killing():
    pod = _py_auth_pod()
    (container,) = pod["containers"]
    pause = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep"

    assert int(pause[1]) + GRACEFUL_SHUTDOWN_SECONDS < pod["terminationGracePeriodSeconds"]


def test_kubernetes_probes_readiness_on_ready_and_liveness_on_health():
    (container,) = _py_auth_pod()["containers"]

    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"


def test_kubernetes_migrates_with_a_job_of_the_same_image_and_settings():
    (job,) = _kubernetes("migrate-job.yaml")
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    (serve,) = _py_auth_pod()["containers"]

    assert (job["kind"], migrate["args"]) == ("Job", ["migrate"])
    assert (migrate["image"], migrate["envFrom"]) == (serve["image"], serve["envFrom"])


def test_systemd_and_compose_wait_longer_than_the_graceful_shutdown():
    compose = yaml.safe_load((REPO_DIR / "docker-compose.yml").read_text())
    compose_grace = compose["services"]["app"]["stop_grace_period"]

    assert int(_unit_value("py-auth@.service", "TimeoutStopSec")) > GRACEFUL_SHUTDOWN_SECONDS
    assert int(compose_grace.removesuffix("s")) > GRACEFUL_SHUTDOWN_SECONDS


def test_compose_gives_the_nginx_template_every_value_it_needs():
    compose = yaml.safe_load((REPO_DIR / "docker-compose.yml").read_text())
    names = set(re.findall(r"\$\{([A-Z_]+)\}", NGINX_TEMPLATE.read_text()))

    assert set(compose["services"]["proxy"]["environment"]) == names


def test_the_entrypoint_refuses_a_command_it_does_not_know():
    result = subprocess.run(  # noqa: S603 (a fixed command line)
        ["sh", str(ENTRYPOINT), "serve-forever"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 64
    assert "usage: entrypoint.sh serve | migrate | cli" in result.stderr
