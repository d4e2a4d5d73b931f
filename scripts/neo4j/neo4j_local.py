"""A local Neo4j 5 Community server without Docker: fetched from Maven Central, started by a small launcher.

    python scripts/neo4j/neo4j_local.py [--home .rag/neo4j] [--port 7687]     (also: make neo4j)

The first start fetches Neo4j into ~/.m2 (~155 MB) and compiles Neo4jLauncher.java into
~/.cache/powerhouse-rag/neo4j/; later starts are offline. The password is NEO4J_PASSWORD (default
"powerhouse-rag"); the tests start their own server on a free port with :func:`start`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "powerhouse-rag" / "neo4j"
DEFAULT_PASSWORD = "powerhouse-rag"
JVM_FLAGS = [
    "-Xmx1g",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
]


class Neo4jLaunchError(RuntimeError):
    pass


def _build() -> tuple[Path, str]:
    """The launcher's class folder and Neo4j's classpath, fetched and compiled once per pom/launcher version."""
    digest = hashlib.sha256((HERE / "pom.xml").read_bytes() + (HERE / "Neo4jLauncher.java").read_bytes()).hexdigest()[
        :12
    ]
    folder = CACHE / digest
    classpath_file = folder / "classpath.txt"
    if not (folder / "Neo4jLauncher.class").exists() or not classpath_file.exists():
        for tool in ("mvn", "javac", "java"):
            if shutil.which(tool) is None:
                raise Neo4jLaunchError(f"{tool} not found: a local Neo4j needs a JDK (17 or 21) and Maven")
        folder.mkdir(parents=True, exist_ok=True)
        fetched = subprocess.run(
            ["mvn", "-q", "-f", str(HERE / "pom.xml"), "dependency:build-classpath",
             f"-Dmdep.outputFile={classpath_file}"],
            capture_output=True, text=True,
        )  # fmt: skip
        if fetched.returncode != 0:
            raise Neo4jLaunchError(f"could not fetch Neo4j from Maven Central: {fetched.stdout[-2000:]}")
        compiled = subprocess.run(
            ["javac", "-d", str(folder), "-cp", classpath_file.read_text().strip(), str(HERE / "Neo4jLauncher.java")],
            capture_output=True, text=True,
        )  # fmt: skip
        if compiled.returncode != 0:
            raise Neo4jLaunchError(f"could not compile the Neo4j launcher: {compiled.stderr[-2000:]}")
    return folder, classpath_file.read_text().strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Neo4jServer:
    """A running launcher process: ``uri``, ``password``, ``stop()``."""

    def __init__(self, process: subprocess.Popen, uri: str, password: str, home: Path):
        self.process, self.uri, self.password, self.home = process, uri, password, home

    def stop(self, timeout: float = 60) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(home: Path, port: int | None = None, password: str = DEFAULT_PASSWORD, timeout: float = 180) -> Neo4jServer:
    """Start Neo4j with its data under `home` on 127.0.0.1:`port` (a free one when None); wait until ready."""
    folder, classpath = _build()
    port = port or free_port()
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    log = open(home / "launcher.log", "ab")  # noqa: SIM115 - kept open for the process's life
    process = subprocess.Popen(
        ["java", *JVM_FLAGS, "-cp", f"{folder}{os.pathsep}{classpath}", "Neo4jLauncher", str(home), str(port)],
        stdout=subprocess.PIPE, stderr=log, env={**os.environ, "NEO4J_PASSWORD": password},
    )  # fmt: skip
    ready = threading.Event()
    uri = f"bolt://127.0.0.1:{port}"

    def watch() -> None:
        for line in iter(process.stdout.readline, b""):
            if line.startswith(b"NEO4J READY"):
                ready.set()
            log.write(line)
            log.flush()

    threading.Thread(target=watch, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            tail = (home / "launcher.log").read_text(errors="replace")[-3000:]
            raise Neo4jLaunchError(f"Neo4j did not start on port {port} (log {home / 'launcher.log'}):\n{tail}")
    return Neo4jServer(process, uri, password, home)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=".rag/neo4j", help="where the database lives")
    parser.add_argument("--port", type=int, default=7687)
    args = parser.parse_args()
    password = os.environ.get("NEO4J_PASSWORD", DEFAULT_PASSWORD)
    print("starting Neo4j (the first start fetches it from Maven Central) ...", flush=True)
    try:
        server = start(Path(args.home), args.port, password)
    except Neo4jLaunchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Neo4j ready at {server.uri} (user neo4j, password from NEO4J_PASSWORD); Ctrl-C stops it", flush=True)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        print("stopping Neo4j ...", flush=True)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
