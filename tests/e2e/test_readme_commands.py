"""The README's two commands, run from a fresh clone of this repository.

The clone gets its own virtual environment, layered over the current one with a .pth file so
the test does not download torch again; the scripts' own steps (venv check, torch pin, the
editable install of the clone) still run for real, offline.
"""

import contextlib
import os
import signal
import site
import subprocess
import sys
import time

import httpx
import pytest

from ..conftest import REPO, TEST_PINS
from ..support.net import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clone")
    clone = tmp / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    # The clone needs ../shared beside it, as a real checkout has.
    (tmp / "shared").symlink_to(REPO.parent / "shared")
    venv = tmp / "venv"
    # --without-pip: pip and setuptools come from the outer env (a venv's own old setuptools would shadow it)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    venv_site = next((venv / "lib").glob("python3*/site-packages"))
    (venv_site / "_outer_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {**os.environ, "RAG_VENV": str(venv), "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PYTHONPATH": ""}
    for pin in TEST_PINS:  # the README's commands run with the configuration users get
        env.pop(pin, None)
    return clone, env


def test_demo_command_ingests_samples_answers_a_search_and_starts_the_app(fresh_clone, tmp_path):
    clone, env = fresh_clone
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "scripts/demo.sh"],
            cwd=clone,
            env={**env, "STREAMLIT_SERVER_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            deadline, healthy = time.time() + 600, False
            while time.time() < deadline and process.poll() is None and not healthy:
                time.sleep(1)
                with contextlib.suppress(httpx.TransportError):
                    healthy = httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok"
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    output = log.read_text()
    assert healthy, output[-3000:]
    assert "│   9 │" in output  # nine sample files ingested as new
    top = output.split("Sample search:")[1].split("\n2. ")[0]
    assert "aurora-e-bike-manual.md" in top and "60 and 110 km" in " ".join(top.split())
    assert f"Starting the chat app: http://127.0.0.1:{port}" in output
    assert (clone / ".rag" / "chroma").is_dir()


def test_test_command_runs_pytest_from_the_clone(fresh_clone):
    clone, env = fresh_clone
    result = subprocess.run(
        ["bash", "scripts/test.sh", "tests/unit/test_config.py", "-q"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "passed" in result.stdout
    assert (clone / ".ci" / "run").read_text().strip().endswith("exec bash scripts/test.sh")
