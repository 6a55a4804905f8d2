"""The Makefile and the Alembic environment as a developer meets them: `make help` says where
`make run` serves, a stop of `make run` is not reported as a failure, a setting that cannot work
stops the migrations with its own message, and `make revision` writes the next numbered
migration in the project's style. Each runs make or Alembic in a subprocess, on a database of
its own; none installs anything (`-o` tells make that the virtualenv and backend/.env are
there, whatever their age)."""

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import BACKEND_DIR
from tests.servers import REPO_DIR, free_port, poll_until, server_env, wait_for_exit

VENV_DIR = BACKEND_DIR / ".venv"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(*args: str, cwd: Path = REPO_DIR, env: dict[str, str] | None = None) -> str:
    """`make args`, which must succeed; what it printed."""
    done = subprocess.run(  # noqa: S603 (a fixed command line)
        ["make", "--no-print-directory", *args],  # noqa: S607
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'make.db'}"


def test_make_help_shows_the_address_that_make_run_serves_on() -> None:
    shown = make("help", "HOST=0.0.0.0", "PORT=9001")

    assert "Serve the API on http://0.0.0.0:9001 " in shown
    assert "$(" not in shown


def test_a_setting_that_cannot_work_stops_the_migrations_with_its_message_alone(
    tmp_path: Path,
) -> None:
    env = server_env(sqlite_url(tmp_path), ACCESS_TOKEN_MINUTES="abc")

    done = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr.startswith("py-auth cannot start:\n  ACCESS_TOKEN_MINUTES: ")
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not VENV_DIR.is_dir(), reason="needs backend/.venv, which make uses")
async def test_a_stop_of_make_run_is_not_reported_as_a_failure(tmp_path: Path) -> None:
    """SIGTERM to make and the server together, as a terminal's Ctrl-C (SIGINT) or a process
    manager does: the server shuts down gracefully and make reports no error for it."""
    port = free_port()
    output = tmp_path / "make-run.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603, ASYNC220 (a fixed command line)
            [  # noqa: S607
                "make",
                "--no-print-directory",
                "-o",
                "backend/.venv/.runtime",
                "-o",
                "backend/.env",
                "run",
                "HOST=127.0.0.1",
                f"PORT={port}",
            ],
            cwd=REPO_DIR,
            env=server_env(sqlite_url(tmp_path)),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def serving() -> bool:
        assert process.poll() is None, output.read_text()
        try:
            async with httpx.AsyncClient(timeout=1.0) as http:
                return (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        await poll_until(serving, 60.0, "make run did not serve")
        os.killpg(process.pid, signal.SIGTERM)
        await wait_for_exit(process, 30.0)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    printed = output.read_text()
    assert "Finished server process" in printed
    assert "make: ***" not in printed


@pytest.fixture
def backend_copy(tmp_path: Path) -> Path:
    """backend/ as make revision sees it, with a versions/ of its own: the migrations, the
    Alembic files and pyproject.toml copied, the app and the virtualenv linked."""
    backend = tmp_path / "backend"
    backend.mkdir()
    shutil.copytree(
        BACKEND_DIR / "alembic",
        backend / "alembic",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for name in ("alembic.ini", "pyproject.toml"):
        shutil.copy(BACKEND_DIR / name, backend / name)
    for name in ("app", ".venv"):
        (backend / name).symlink_to(BACKEND_DIR / name)
    return backend


@pytest.mark.skipif(not VENV_DIR.is_dir(), reason="needs backend/.venv, which make uses")
def test_make_revision_writes_the_next_numbered_migration_in_the_project_style(
    backend_copy: Path, tmp_path: Path
) -> None:
    env = server_env(sqlite_url(tmp_path))
    versions = backend_copy / "alembic" / "versions"
    numbers = [re.match(r"\d{4}_\d{2}_\d{2}_(\d{4})_", path.name) for path in versions.glob("*.py")]
    last = max(int(number.group(1)) for number in numbers if number)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=backend_copy,
        env=env,
        capture_output=True,
        check=True,
    )

    make(
        "-f",
        str(REPO_DIR / "Makefile"),
        f"BACKEND={backend_copy}",
        "-o",
        f"{backend_copy}/.venv/.dev",
        "-o",
        f"{backend_copy}/.env",
        "revision",
        "m=nothing changed",
        cwd=tmp_path,
        env=env,
    )

    following = f"{last + 1:04d}"
    (written,) = versions.glob(f"*_{following}_*.py")
    assert re.fullmatch(rf"\d{{4}}_\d{{2}}_\d{{2}}_{following}_nothing_changed\.py", written.name)
    assert f'revision: str = "{following}"' in written.read_text()
    assert f'down_revision: str | Sequence[str] | None = "{last:04d}"' in written.read_text()
    ruff = str(backend_copy / ".venv" / "bin" / "ruff")
    lint = [[ruff, "check", str(written)], [ruff, "format", "--check", str(written)]]
    for command in lint:
        checked = subprocess.run(command, cwd=backend_copy, capture_output=True, text=True)  # noqa: S603
        assert checked.returncode == 0, checked.stdout + checked.stderr
