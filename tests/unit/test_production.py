"""The production stack: docker-compose.yml validated by compose-go (what `docker compose config` runs; no
Docker engine here), wired to configs/production.yaml, and a Dockerfile that runs as a non-root user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from urllib.parse import urlparse

import pytest

from rag.config import load_config
from tests.conftest import REPO

CHECKER = REPO / "scripts" / "compose-check"
ALWAYS = {"etcd", "minio", "milvus", "neo4j"}


@pytest.fixture(scope="module")
def compose_check(tmp_path_factory):
    go = shutil.which("go") or "/usr/local/go/bin/go"
    assert os.path.exists(go), "the compose check needs Go (https://go.dev/dl/): scripts/compose-check is a Go program"
    binary = tmp_path_factory.mktemp("compose-check") / "compose-check"
    built = subprocess.run(
        [go, "build", "-o", str(binary), "."], cwd=CHECKER, capture_output=True, text=True, timeout=900
    )
    assert built.returncode == 0, built.stderr[-3000:]

    def run(*profiles: str, token: str | None = "test-token", file=REPO / "docker-compose.yml"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG")}
        if token:
            env["RAG_API_TOKEN"] = token
        return subprocess.run([str(binary), str(file), *profiles], env=env, capture_output=True, text=True)

    return run


def project(compose_check, profile: str) -> dict:
    done = compose_check(profile)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize(("profile", "answerer"), [("cpu", "llm"), ("gpu", "vllm")])
def test_each_profile_is_a_valid_whole_stack(compose_check, profile, answerer):
    services = project(compose_check, profile)["services"]
    assert set(services) == ALWAYS | {"models", "api", "app", answerer}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port} beyond this host"
        if name != "models":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    # The API's LLM URL names a service (or alias) of this profile, and its store URL the Milvus service.
    env = services["api"]["environment"]
    llm_host = urlparse(env["RAG__LLM__BASE_URL"]).hostname
    aliases = {
        a for s in services.values() for n in (s.get("networks") or {}).values() for a in (n or {}).get("aliases", [])
    }
    assert llm_host in set(services) | aliases
    assert urlparse(env["RAG__STORE__URI"]).hostname in services
    assert services["api"]["depends_on"]["milvus"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["models"]["condition"] == "service_completed_successfully"


def test_the_api_refuses_to_start_without_a_token(compose_check):
    done = compose_check("cpu", token=None)
    assert done.returncode != 0 and "set RAG_API_TOKEN" in done.stderr


def test_a_broken_file_is_refused(compose_check, tmp_path):
    """The check can fail: a service that depends on one that does not exist."""
    broken = (
        (REPO / "docker-compose.yml")
        .read_text()
        .replace("milvus: {condition: service_healthy}", "nowhere: {condition: service_healthy}", 1)
    )
    (tmp_path / "docker-compose.yml").write_text(broken)
    done = compose_check("cpu", file=tmp_path / "docker-compose.yml")
    assert done.returncode != 0 and "nowhere" in done.stderr


def test_the_production_config_reads_what_the_compose_file_sets(compose_check, monkeypatch):
    env = project(compose_check, "cpu")["services"]["api"]["environment"]
    for key in [k for k in os.environ if k.startswith("RAG__")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_config(REPO / env["RAG_CONFIG"])
    assert settings.store.kind == "milvus" and settings.store.uri == "http://milvus:19530"
    assert settings.llm.backend == "openai" and settings.llm.base_url == "http://llm:8080/v1"
    assert settings.server.host == "0.0.0.0" and os.environ[settings.server.token_env] == "test-token"


def test_the_image_runs_as_a_non_root_user_and_pulls_no_model_unless_asked():
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    user = next(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert lines[user].split()[1] not in ("root", "0")
    assert user < next(i for i, line in enumerate(lines) if line.startswith("CMD "))
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    pulls = [line for line in lines if "models pull" in line and not line.startswith("#")]
    assert pulls and all('"$PULL_MODELS" = "true"' in line for line in pulls)
    assert "ARG PULL_MODELS=false" in lines
