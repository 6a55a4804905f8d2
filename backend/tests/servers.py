"""Real py-auth servers for the tests that need one (resilience, logs, tracing, the browser, the
OAuth2 client libraries): uvicorn in a subprocess, on a free port, with its output in a file
that a test can read; or, for a test that must share this process's state with the server (its
clock), uvicorn in a thread. The `serve` fixture (conftest.py) starts them for a test."""

import asyncio
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tests.helpers import BACKEND_DIR, process_environment

STARTUP_SECONDS = 30.0
REPO_DIR = BACKEND_DIR.parent
# How the image, the systemd units and the topology test start py-auth (deploy/entrypoint.sh).
ENTRYPOINT = REPO_DIR / "deploy" / "entrypoint.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a test server: cheap Argon2, no per-IP limit, JSON logs. Every
    setting that backend/.env could hold for a developer is given, so the file cannot leak in."""
    return {
        **os.environ,
        **process_environment(database_url),
        "AUTH_RATE_LIMIT": "",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
        "METRICS_ENABLED": "true",
        "METRICS_TOKEN": "",
        **settings,
    }


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    output: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, timeout: float = 10.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=timeout)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        """Every line the server wrote, parsed as JSON (a line that is not fails the test)."""
        return [json.loads(line) for line in self.text().splitlines() if line.strip()]

    async def stop(self, sig: int = signal.SIGTERM, within: float = 20.0) -> int:
        """Signal the server and wait for it to exit; kill it if it will not."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return await wait_for_exit(self.process, within)
        except TimeoutError:
            self.kill()
            raise

    def kill(self) -> None:
        """Kill the server and whatever it started (uvicorn's workers): its process group."""
        with contextlib.suppress(ProcessLookupError):  # nothing of it is left
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


async def wait_for_exit(process: subprocess.Popen[bytes], within: float) -> int:
    async def exited() -> bool:
        return process.poll() is not None

    await poll_until(exited, within, f"process {process.pid} did not exit")
    return process.returncode


async def poll_until(
    condition: Callable[[], Awaitable[bool]], within: float, message: str, interval: float = 0.05
) -> None:
    """Wait for a condition, checking it often, and fail when `within` seconds have passed."""
    deadline = time.monotonic() + within
    while True:
        if await condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(message)
        await asyncio.sleep(interval)


class PortTaken(RuntimeError):
    pass


async def start_server(env: dict[str, str], output: Path, *uvicorn_args: str) -> Server:
    """Start `uvicorn --factory app.main:create_app` and return once /health answers. A free
    port can be taken by another process before uvicorn binds it: then another port is tried."""

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "app.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            # As wherever py-auth is started: uvicorn would otherwise believe X-Forwarded-For
            # from 127.0.0.1, ahead of TRUSTED_PROXIES, the one setting of proxy trust.
            "--no-proxy-headers",
            *uvicorn_args,
        ]

    return await _start(env, output, command)


async def start_make_run_server(env: dict[str, str], output: Path) -> Server:
    """Start the server that `make run` starts: the uvicorn command line its recipe execs, read
    from `make -n run` (so the Makefile itself is what is tested), on 127.0.0.1 and a free
    port. The migrations that `make run` applies first are left to the test's database."""
    return await _start(env, output, make_run_command)


def make_run_command(port: int) -> list[str]:
    """The command that `make run HOST=127.0.0.1 PORT=port` execs, without running make."""
    recipe = subprocess.run(  # noqa: S603 (a fixed command line)
        ["make", "--no-print-directory", "-n", "run", "HOST=127.0.0.1", f"PORT={port}"],  # noqa: S607
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = recipe.replace("\\\n", " ").splitlines()
    # The one line that execs: the server (the others migrate, or write backend/.env).
    (words,) = [words for line in lines if "exec" in (words := shlex.split(line, comments=True))]
    # Relative to backend/, where the recipe runs it (`cd backend && ... exec .venv/bin/...`).
    return words[words.index("exec") + 1 :]


async def start_entrypoint_server(
    env: dict[str, str], output: Path, port: int | None = None
) -> Server:
    """Start py-auth as the image starts it, `deploy/entrypoint.sh serve`, on 127.0.0.1 and a
    free port, or on `port` (a process restarted where a proxy expects it). The virtualenv's
    bin goes first on PATH, as in the image."""
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}

    def command(port: int) -> list[str]:
        return ["env", "HOST=127.0.0.1", f"PORT={port}", "sh", str(ENTRYPOINT), "serve"]

    if port is not None:
        return await _start_on_a_free_port(env, output, command, port)
    return await _start(env, output, command)


async def _start(env: dict[str, str], output: Path, command: Callable[[int], list[str]]) -> Server:
    for _attempt in range(3):
        try:
            return await _start_on_a_free_port(env, output, command)
        except PortTaken:
            continue
    raise RuntimeError("no free port could be bound")


async def _start_on_a_free_port(
    env: dict[str, str],
    output: Path,
    command: Callable[[int], list[str]],
    port: int | None = None,
) -> Server:
    port = port or free_port()
    with output.open("wb") as sink:
        # Popen returns once the child is forked: nothing here waits on it. S603: the command
        # line is fixed.
        process = subprocess.Popen(  # noqa: S603, ASYNC220
            command(port),
            cwd=BACKEND_DIR,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own, which kill() ends with its workers
        )
    server = Server(process=process, port=port, output=output)

    async def healthy() -> bool:
        if process.poll() is not None:
            if "address already in use" in server.text():
                raise PortTaken()
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.text()}")
        try:
            async with server.client(timeout=1.0) as http:
                return (await http.get("/health")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await poll_until(healthy, STARTUP_SECONDS, "the server did not start")
    except BaseException:
        server.kill()
        raise
    return server


class _ThreadServer(uvicorn.Server):
    """uvicorn that says when it is ready to serve, so that nobody waits by sleeping."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


@contextmanager
def serve_in_thread(app: FastAPI, within: float = STARTUP_SECONDS) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread of this process, on a free port of 127.0.0.1 (bound
    here, so no other process can take it): its base URL, until the block ends."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        loop="asyncio",
        http="h11",
        lifespan="on",
        log_config=None,
        access_log=False,
        proxy_headers=False,  # as py-auth is served everywhere: TRUSTED_PROXIES decides
    )
    server = _ThreadServer(config)

    def serve() -> None:
        try:
            server.run(sockets=[listener])
        finally:
            server.ready.set()  # a server that failed to start must not be waited for

    thread = threading.Thread(target=serve, name="py-auth-thread-server", daemon=True)
    thread.start()
    try:
        assert server.ready.wait(within), "uvicorn did not start"
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(within)
        listener.close()
    assert not thread.is_alive(), "uvicorn did not stop"
