"""`make bench`: py-auth side by side with the floor of its own stack, in one run.

Creates a PostgreSQL database of its own (on DATABASE_URL's server, else 127.0.0.1:5432), migrates
and seeds it (10,000 users, 10,000 articles, Argon2 as shipped), serves py-auth and
bench/reference_app.py with the same uvicorn flags, loads them with wrk one endpoint at a time,
prints one table, writes bench/results/latest.json (and latest.md), and drops the database.

    backend/.venv/bin/python bench/run.py            # the full run (about 15 minutes)
    backend/.venv/bin/python bench/run.py --quick    # a few seconds per row, for development

Absolute req/s depend on the machine; the ratios, measured in one run, are what is judged.
See BENCHMARKS.md.
"""

import argparse
import asyncio
import base64
import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "backend"
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
VENV_BIN = Path(sys.executable).parent
WRK_SCRIPT = BENCH / "wrk.lua"
DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# The PgBouncer row runs Debian's pgbouncer with the deployment's own configuration.
PGBOUNCER_INI = ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini"

sys.path.insert(0, str(BACKEND))

import asyncpg  # noqa: E402
from pwdlib import PasswordHash  # noqa: E402
from pwdlib.hashers.argon2 import Argon2Hasher  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.auth.mfa import recovery_code_hash  # noqa: E402
from app.core.config import Settings  # noqa: E402
from app.core.sealing import Sealer  # noqa: E402
from app.core.security import hash_opaque_token  # noqa: E402

USERS = 10_000
ARTICLES = 10_000
ARTICLES_LARGE = 100_000
PASSWORD = "bench-password-0123456789"  # every seeded user's (URL-safe)
ACCESS_TOKEN_LOGINS = 64  # /users/me and /articles cycle over the tokens of 64 real logins
CONNECTIONS = 32
LOGIN_CONNECTIONS = 16
# Settings the bench pins, whatever the environment or backend/.env say: Argon2 as shipped.
FORCED_SETTINGS = ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM")
# Settings the bench changes from the shipped defaults, and why (see BENCHMARKS.md).
BENCH_SETTINGS = {
    # All the bench's load comes from one IP: a per-IP limit on logins would measure 429s.
    "AUTH_RATE_LIMIT": "",
}
# A round during which processes outside the bench took more than this share of the machine
# is run again (at most MAX_REPEATS times); the share is reported either way.
FOREIGN_LOAD_LIMIT = 0.10
MAX_REPEATS = 2
WORDS = [
    *(
        "token",
        "session",
        "role",
        "permission",
        "request",
        "latency",
        "queue",
        "thread",
    ),
    *(
        "pool",
        "database",
        "index",
        "page",
        "article",
        "editor",
        "viewer",
        "admin",
        "refresh",
    ),
    *(
        "rotate",
        "family",
        "revoke",
        "hash",
        "argon",
        "salt",
        "secret",
        "header",
        "claim",
    ),
    *(
        "issuer",
        "audience",
        "expiry",
        "scope",
        "grant",
        "bearer",
        "origin",
        "proxy",
        "worker",
    ),
]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Profile:
    warmup: int  # seconds
    rounds: int
    duration: int  # seconds per round
    login_warmup: int
    login_duration: int
    hash_seconds: int
    flood_rounds: int
    flood_duration: int
    pair_rounds: int  # side by side (Runner.side_by_side)
    pair_duration: int  # seconds


FULL = Profile(
    warmup=3,
    rounds=3,
    duration=8,
    login_warmup=4,
    login_duration=10,
    hash_seconds=4,
    flood_rounds=2,
    flood_duration=10,
    pair_rounds=6,
    pair_duration=6,
)
QUICK = Profile(
    warmup=1,
    rounds=2,
    duration=2,
    login_warmup=2,
    login_duration=3,
    hash_seconds=2,
    flood_rounds=1,
    flood_duration=4,
    pair_rounds=2,
    pair_duration=2,
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------
# Measurements


@dataclass
class Sample:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    foreign_load: float = 0.0  # share of the machine used outside the bench meanwhile
    server_cpu_ms: float = 0.0  # CPU time of the server (all its threads) per request
    postgres_cpu_ms: float = 0.0  # CPU time of PostgreSQL for the bench's database, per request

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


@dataclass
class Row:
    key: str
    label: str
    connections: int
    samples: list[Sample] = field(default_factory=list)

    def _median(self, value: Callable[[Sample], float]) -> float:
        return statistics.median(value(s) for s in self.samples) if self.samples else 0.0

    @property
    def rps(self) -> float:
        return self._median(lambda s: s.rps)

    @property
    def p50_ms(self) -> float:
        return self._median(lambda s: s.p50_ms)

    @property
    def p99_ms(self) -> float:
        return self._median(lambda s: s.p99_ms)

    @property
    def errors(self) -> int:
        return sum(s.error_count for s in self.samples)

    @property
    def foreign_load(self) -> float:
        return max((s.foreign_load for s in self.samples), default=0.0)

    @property
    def server_cpu_ms(self) -> float:
        return self._median(lambda s: s.server_cpu_ms)

    @property
    def postgres_cpu_ms(self) -> float:
        return self._median(lambda s: s.postgres_cpu_ms)

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "connections": self.connections,
            "rps": round(self.rps, 2),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "errors": self.errors,
            "foreign_load_max": round(self.foreign_load, 3),
            "server_cpu_ms_per_request": round(self.server_cpu_ms, 3),
            "postgres_cpu_ms_per_request": round(self.postgres_cpu_ms, 3),
            "rounds": [
                {
                    "rps": round(s.rps, 2),
                    "requests": s.requests,
                    "p50_ms": round(s.p50_ms, 2),
                    "p99_ms": round(s.p99_ms, 2),
                    "max_ms": round(s.max_ms, 2),
                    "errors": s.errors,
                    "foreign_load": round(s.foreign_load, 3),
                    "server_cpu_ms": round(s.server_cpu_ms, 3),
                    "postgres_cpu_ms": round(s.postgres_cpu_ms, 3),
                }
                for s in self.samples
            ],
        }


@dataclass
class Pair:
    """Two servers under load at the same time, the ratio of their requests per second."""

    key: str
    label: str
    ratios: list[float] = field(default_factory=list)
    # The share of the machine that other processes used during each round. A round is not run
    # again for it: on the one core, both servers of the pair bear the same interference.
    foreign_loads: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else 0.0

    @property
    def foreign_load(self) -> float:
        return max(self.foreign_loads, default=0.0)

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "ratio": round(self.ratio, 3),
            "rounds": [round(ratio, 3) for ratio in self.ratios],
            "foreign_load_max": round(self.foreign_load, 3),
        }


@dataclass(frozen=True)
class Target:
    label: str
    value: float
    op: str  # ">=" or "<="
    bound: float
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.value >= self.bound if self.op == ">=" else self.value <= self.bound


# ---------------------------------------------------------------------------------------------
# CPU accounting: who else used the machine while a round ran


def _stat_fields(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), in clock ticks."""
    fields = _stat_fields(pid)
    return int(fields[11]) + int(fields[12])


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(_stat_fields(entry.name)[1]) == pid:
                    found.append(int(entry.name))
    return found


def machine_busy_ticks() -> int:
    """CPU time of every process of the machine (not interrupts, which no process is charged
    with, and which the bench's own network traffic causes)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system = fields[:3]
    return user + nice + system


def postgres_ticks(database: str) -> int:
    """CPU of the PostgreSQL processes that serve the bench: the backends of its database and
    the server's own processes (not the backends of other databases)."""
    total = 0
    marker = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            if (entry / "comm").read_bytes().strip() != b"postgres":
                continue
            command = (entry / "cmdline").read_bytes()
            is_backend = b"(" in command  # "postgres: 15/main: user db 127.0.0.1(port) idle"
            if is_backend and marker not in command:
                continue
            total += cpu_ticks(int(entry.name))
    return total


class LoadMeter:
    """Measures the share of the machine that processes outside the bench used."""

    def __init__(self, database: str, pids: Callable[[], list[int]]) -> None:
        self.database = database
        self.pids = pids
        self.cores = os.cpu_count() or 1

    def _ours(self) -> int:
        times = os.times()
        own = times.user + times.system + times.children_user + times.children_system
        servers = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                servers += cpu_ticks(pid)
        return round(own * CLOCK_TICKS) + servers + postgres_ticks(self.database)

    def start(self) -> tuple[float, int, int]:
        return time.monotonic(), machine_busy_ticks(), self._ours()

    def foreign_share(self, started: tuple[float, int, int]) -> float:
        began, busy, ours = started
        elapsed = time.monotonic() - began
        foreign = (machine_busy_ticks() - busy) - (self._ours() - ours)
        return max(0.0, foreign / (elapsed * CLOCK_TICKS * self.cores)) if elapsed else 0.0


# ---------------------------------------------------------------------------------------------
# wrk


class Wrk:
    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.cpus: set[int] | None = None  # where wrk runs: anywhere, unless pinned

    def threads_for(self, connections: int) -> int:
        return max(1, min(self.threads, connections))

    def command(
        self, url: str, *, connections: int, seconds: int, args: Sequence[str]
    ) -> list[str]:
        return [
            shutil.which("wrk") or "wrk",
            f"-t{self.threads_for(connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(WRK_SCRIPT),
            url,
            "--",
            *args,
        ]

    @staticmethod
    def parse(output: str, stderr: str = "") -> Sample:
        for line in output.splitlines():
            if line.startswith("BENCH_JSON "):
                data = json.loads(line.removeprefix("BENCH_JSON "))
                return Sample(
                    requests=data["requests"],
                    seconds=data["duration_us"] / 1e6,
                    p50_ms=data["p50_us"] / 1000,
                    p99_ms=data["p99_us"] / 1000,
                    max_ms=data["max_us"] / 1000,
                    errors=data["errors"],
                )
        raise RuntimeError(f"wrk printed no result:\n{output}\n{stderr}")

    def start(
        self, url: str, *, connections: int, seconds: int, args: Sequence[str]
    ) -> subprocess.Popen[str]:
        command = self.command(url, connections=connections, seconds=seconds, args=args)
        cpus = self.cpus
        return subprocess.Popen(  # noqa: S603
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            # Set before exec, so that every thread of wrk inherits it.
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )

    def finish(self, process: subprocess.Popen[str]) -> Sample:
        stdout, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"wrk failed ({process.returncode}): {stderr or stdout}")
        return self.parse(stdout, stderr)

    def run(self, url: str, *, connections: int, seconds: int, args: Sequence[str]) -> Sample:
        return self.finish(self.start(url, connections=connections, seconds=seconds, args=args))


# ---------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def memory_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM (Linux: writing 5 to clear_refs), so that it measures from now on."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Server:
    """One uvicorn process that this bench started (and its workers), and only that."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [*argv, "--host", "127.0.0.1", "--port", str(self.port)]
        self.env = env
        self.logfile = logdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._pids: list[int] = []

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pids(self) -> list[int]:
        """The server process and its worker processes (uvicorn --workers N)."""
        if self.process is None or self.process.poll() is not None:
            return []
        if not self._pids:
            self._pids = [self.pid, *children_of(self.pid)]
        return self._pids

    def start(self) -> None:
        with self.logfile.open("ab") as logfile:
            self.process = subprocess.Popen(  # noqa: S603
                self.argv,
                cwd=BACKEND,
                env=self.env,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._pids = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.logfile.read_text()[-3000:]}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.url + "/health", timeout=1) as response,  # noqa: S310
            ):
                if response.status == 200:
                    time.sleep(0.5)  # let every worker of a multi-worker server come up
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer /health within 60 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def wait_idle(self, timeout: float = 30) -> None:
        """Wait until the server stops burning CPU: requests that a finished wrk run left
        queued (a login whose client went away is still hashed) must not eat the next run."""
        deadline = time.monotonic() + timeout
        previous = sum(cpu_ticks(pid) for pid in self.pids())
        while time.monotonic() < deadline:
            time.sleep(0.25)
            current = sum(cpu_ticks(pid) for pid in self.pids())
            if current - previous <= 2:
                return
            previous = current


@contextlib.contextmanager
def running(*servers: Server) -> Iterator[None]:
    try:
        for server in servers:
            log(f"starting {server.name}: uvicorn {' '.join(server.argv[1:])}")
            server.start()
        yield
    finally:
        for server in servers:
            server.stop()


class PgBouncer:
    """Debian's pgbouncer in transaction mode, configured by deploy/pgbouncer/pgbouncer.ini,
    in front of the bench's database, on a free port."""

    def __init__(self, database_url: str, pool_size: int) -> None:
        url = make_url(database_url)
        self.port = free_port()
        # Readable by the unprivileged user PgBouncer runs as when the bench runs as root.
        self.folder = Path(tempfile.mkdtemp(prefix="pyauth-bench-pgbouncer-"))
        self.folder.chmod(0o755)
        auth_file = self.folder / "userlist.txt"
        auth_file.write_text(f'"{url.username}" "{url.password or ""}"\n')
        values = {
            "PGBOUNCER_DATABASE": str(url.database),
            "POSTGRES_HOST": url.host or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_DB": str(url.database),
            "PGBOUNCER_LISTEN_ADDR": "127.0.0.1",
            "PGBOUNCER_PORT": str(self.port),
            "PGBOUNCER_SOCKET_DIR": "",
            "PGBOUNCER_LOGFILE": "",
            "PGBOUNCER_PIDFILE": "",
            "PGBOUNCER_AUTH_TYPE": "trust",
            "PGBOUNCER_AUTH_FILE": str(auth_file),
            "PGBOUNCER_POOL_SIZE": str(pool_size),
        }
        self.ini = self.folder / "pgbouncer.ini"
        self.ini.write_text(
            re.sub(
                r"\$\{([A-Z_]+)\}",
                lambda m: values[m.group(1)],
                PGBOUNCER_INI.read_text(),
            )
        )
        for path in (auth_file, self.ini):
            path.chmod(0o644)
        self.url = url.set(host="127.0.0.1", port=self.port).render_as_string(False)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        pgbouncer = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses to run as root
        with (self.folder / "pgbouncer.log").open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603
                [pgbouncer, *user, str(self.ini)],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.folder / "pgbouncer.log").read_text()[-2000:])
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port)),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError("pgbouncer did not start within 15 s")

    def pids(self) -> list[int]:
        return [self.process.pid] if self.process and self.process.poll() is None else []

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)
        shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Database


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _on_server(server_url: str, sql: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(server_url), timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def create_database(server_url: str, name: str) -> None:
    try:
        asyncio.run(_on_server(server_url, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        where = make_url(server_url).render_as_string()
        raise SystemExit(
            f"Cannot create a database on {where}: {exc}\n"
            "The bench needs a PostgreSQL server where it may create a database: the one of "
            "DATABASE_URL, else postgresql://postgres@127.0.0.1:5432 (`docker compose up -d`)."
        ) from None


def drop_database(server_url: str, name: str) -> None:
    asyncio.run(_on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def analyze(database_url: str) -> None:
    """Bring the planner's statistics up to date, as autovacuum keeps them in production.

    The rows before a run write tens of thousands of sessions, tokens and challenges. Where
    autovacuum is off (this bench's machine runs PostgreSQL so), the statistics would still
    describe the tables as seeded: the caller's query, planned for an empty auth_sessions,
    then read every session on every request (a third of /users/me's speed by the third
    round, the reference's alike)."""
    asyncio.run(_on_server(database_url, "ANALYZE"))


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _role_names(index: int) -> tuple[str, ...]:
    """Six users in ten are viewers, three editors (and viewers), one an admin."""
    bucket = index % 10
    if bucket == 9:
        return ("admin",)
    if bucket >= 6:
        return ("editor", "viewer")
    return ("viewer",)


async def seed(dsn: str, password_hash: str, rng: random.Random) -> list[int]:
    """10,000 users with mixed roles, all with PASSWORD, and 10,000 articles: COPY, not ORM."""
    connection = await asyncpg.connect(dsn)
    try:
        now = datetime.now(UTC)
        role_ids = dict(await connection.fetch("SELECT name, id FROM roles"))
        users = [
            (
                f"user{index:05d}@bench.example",
                password_hash,
                None if index % 7 == 0 else f"Bench User {index}",
                True,
                now - timedelta(days=365, seconds=index * 60),
                now - timedelta(days=365, seconds=index * 60),
            )
            for index in range(1, USERS + 1)
        ]
        await connection.copy_records_to_table(
            "users",
            records=users,
            columns=[
                "email",
                "hashed_password",
                "full_name",
                "is_active",
                "created_at",
                "updated_at",
            ],
        )
        ids = dict(await connection.fetch("SELECT email, id FROM users"))
        user_ids = [ids[f"user{index:05d}@bench.example"] for index in range(1, USERS + 1)]
        await connection.copy_records_to_table(
            "user_roles",
            records=[
                (user_id, role_ids[name])
                for index, user_id in enumerate(user_ids, start=1)
                for name in _role_names(index)
            ],
            columns=["user_id", "role_id"],
        )
        await _add_articles(connection, ARTICLES, user_ids, rng)
        return user_ids
    finally:
        await connection.close()


async def _add_articles(
    connection: asyncpg.Connection,
    count: int,
    user_ids: Sequence[int],
    rng: random.Random,
) -> None:
    now = datetime.now(UTC)
    records = []
    for _ in range(count):
        created = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        records.append(
            (
                _text(rng, rng.randint(3, 8)).capitalize(),
                _text(rng, rng.randint(30, 60)),
                rng.choice(user_ids),
                created,
                created,
            )
        )
    await connection.copy_records_to_table(
        "articles",
        records=records,
        columns=["title", "body", "author_id", "created_at", "updated_at"],
    )
    await connection.execute("ANALYZE")


MFA_USERS = 500  # the last accounts get an authenticator, for POST /auth/mfa/verify
PASSWORD_ONLY_USERS = USERS - MFA_USERS  # the others: what the login rows and tokens use
MFA_CHALLENGES = 20_000  # sign-ins waiting for their second step, per measurement


async def seed_second_steps(
    dsn: str, settings: Settings, user_ids: Sequence[int]
) -> list[tuple[str, str]]:
    """Sign-ins of the last MFA_USERS accounts waiting for their second step, each with a
    recovery code of its own (a code works once, like the mfa_token: every request needs a
    fresh pair): the (mfa_token, recovery_code) pairs. Rows are made as py-auth makes them:
    the secret sealed, the code as its keyed hash, the token as its SHA-256."""
    sealer = Sealer(settings)
    now = datetime.now(UTC)
    users = list(user_ids[PASSWORD_ONLY_USERS:])
    pairs = [(secrets.token_urlsafe(32), secrets.token_hex(5)) for _ in range(MFA_CHALLENGES)]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.executemany(
            "INSERT INTO totp_credentials (user_id, secret_sealed, created_at, confirmed_at, "
            "last_used_step) VALUES ($1, $2, $3, $3, 0) ON CONFLICT (user_id) DO NOTHING",
            [
                (
                    user_id,
                    sealer.seal(
                        b"BENCHBENCHBENCHBENCHBENCHBENCH23",
                        context=f"totp_credentials.secret:{user_id}",
                    ),
                    now,
                )
                for user_id in users
            ],
        )
        await connection.copy_records_to_table(
            "recovery_codes",
            records=[
                (users[index % len(users)], recovery_code_hash(settings, code), now)
                for index, (_, code) in enumerate(pairs)
            ],
            columns=["user_id", "code_hash", "created_at"],
        )
        await connection.copy_records_to_table(
            "mfa_challenges",
            records=[
                (
                    hash_opaque_token(token),
                    users[index % len(users)],
                    0,
                    now,
                    now + timedelta(minutes=5),
                    0,
                )
                for index, (token, _) in enumerate(pairs)
            ],
            columns=[
                "token_hash",
                "user_id",
                "credentials_version",
                "created_at",
                "expires_at",
                "attempts",
            ],
        )
    finally:
        await connection.close()
    return pairs


async def grow_articles(dsn: str, total: int, user_ids: Sequence[int], rng: random.Random) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        have = await connection.fetchval("SELECT count(*) FROM articles")
        await _add_articles(connection, total - have, user_ids, rng)
    finally:
        await connection.close()


async def server_info(dsn: str) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        return {
            "version": await connection.fetchval("SHOW server_version"),
            "max_connections": int(await connection.fetchval("SHOW max_connections")),
        }
    finally:
        await connection.close()


def logins(base_url: str, count: int, rng: random.Random) -> list[dict[str, str]]:
    """`count` real logins (POST /auth/login) of random seeded users: their token pairs.
    Tokens come from the API, so they are what a client holds (session id included)."""
    users = rng.sample(range(1, PASSWORD_ONLY_USERS + 1), count)

    def login(user: int) -> dict[str, str] | None:
        body = f"username=user{user:05d}%40bench.example&password={PASSWORD}".encode()
        request = urllib.request.Request(  # noqa: S310  (our own server, over http)
            base_url + "/auth/login",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                pair: dict[str, str] = json.loads(response.read())
                return pair
        except OSError:
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        pairs = [pair for pair in pool.map(login, users) if pair]
    if len(pairs) < count:
        raise RuntimeError(f"only {len(pairs)} of {count} bench logins succeeded")
    return pairs


def personal_access_tokens(base_url: str, pairs: Sequence[dict[str, str]]) -> list[str]:
    """A personal access token (scope read_article) of each logged-in user of `pairs`."""

    def create(pair: dict[str, str]) -> str:
        request = urllib.request.Request(  # noqa: S310  (our own server, over http)
            base_url + "/users/me/tokens",
            data=json.dumps({"name": "bench", "scopes": ["read_article"]}).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {pair['access_token']}",
            },
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            token: str = json.loads(response.read())["token"]
            return token

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(create, pairs))


async def add_service_account(dsn: str) -> tuple[str, str]:
    """A service account without roles (introspection needs none), as POST /service-accounts
    makes one: its client_id and client_secret."""
    client_id, secret = "pya_client_bench", "pya_secret_" + secrets.token_urlsafe(32)
    connection = await asyncpg.connect(dsn)
    try:
        user_id = await connection.fetchval(
            "INSERT INTO users (email, hashed_password, is_active, is_service_account, "
            "credentials_version, created_at, updated_at) "
            "VALUES ($1, '!service-account', true, true, 0, now(), now()) RETURNING id",
            f"{client_id}@service-accounts.invalid",
        )
        await connection.execute(
            "INSERT INTO service_accounts (user_id, client_id, secret_hash, created_at, "
            "secret_rotated_at) VALUES ($1, $2, $3, now(), now())",
            user_id,
            client_id,
            hashlib.sha256(secret.encode()).hexdigest(),
        )
    finally:
        await connection.close()
    return client_id, secret


def basic_authorization(client_id: str, client_secret: str) -> str:
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(pair).decode()


# ---------------------------------------------------------------------------------------------
# Settings and environment


def _setting_text(value: Any) -> str:
    if isinstance(value, list | set | frozenset):
        return ",".join(sorted(str(item) for item in value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def server_environment(database_url: str, jwt_secret: str) -> dict[str, str]:
    """The environment both servers get: every py-auth setting spelled out (so that
    backend/.env changes nothing), the shipped default unless the caller's environment sets
    it (pool sizes, hash concurrency...), Argon2 as shipped whatever is set, the bench's few
    changes (BENCH_SETTINGS), and a fresh JWT secret."""
    env = dict(os.environ)
    for name, info in Settings.model_fields.items():
        key = name.upper()
        default = info.get_default(call_default_factory=True)
        if name in ("database_url", "jwt_secret") or default is None:
            continue  # set below, or optional and off unless configured
        if key in FORCED_SETTINGS or key not in os.environ:
            env[key] = _setting_text(default)
    for key, value in BENCH_SETTINGS.items():
        if key.lower() in Settings.model_fields:
            env[key] = value
    env.update(DATABASE_URL=database_url, JWT_SECRET=jwt_secret, LOG_LEVEL="WARNING")
    return env


def settings_from(env: dict[str, str]) -> Settings:
    """The settings the servers will read from `env` (and from nothing else: no .env)."""
    values = {name: env[name.upper()] for name in Settings.model_fields if name.upper() in env}
    return Settings.model_validate(values)


# ---------------------------------------------------------------------------------------------
# Machine


def machine_info(pg: dict[str, Any]) -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    wrk_version = subprocess.run(  # noqa: S603
        [shutil.which("wrk") or "wrk", "-v"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    packages = {}
    for name in (
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "pydantic",
        "SQLAlchemy",
        "asyncpg",
        "PyJWT",
        "pwdlib",
        "argon2-cffi",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            packages[name] = importlib.metadata.version(name)
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_mib": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": pg["version"],
        "postgresql_max_connections": pg["max_connections"],
        "wrk": " ".join(wrk_version[0].split()[:2]) if wrk_version else "unknown",
        "packages": packages,
    }


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Measure:
    """One row's wrk invocation: the server, the path, and the arguments of wrk.lua (made
    anew for every invocation: a refresh run needs tokens nobody has used)."""

    row: Row
    server: Server
    path: str
    args: Callable[[], list[str]]


class Runner:
    def __init__(self, profile: Profile, wrk: Wrk, meter: LoadMeter, database_url: str) -> None:
        self.profile = profile
        self.database_url = database_url
        self.wrk = wrk
        self.meter = meter
        # In all, and none in a quick run: a busy machine must not make the run endless.
        self.repeats_left = 12 if profile.rounds >= FULL.rounds else 0

    def once(self, item: Measure, seconds: int) -> Sample:
        args = item.args()
        analyze(self.database_url)
        started = self.meter.start()
        server_before = sum(cpu_ticks(pid) for pid in item.server.pids())
        postgres_before = postgres_ticks(self.meter.database)
        sample = self.wrk.run(
            item.server.url + item.path,
            connections=item.row.connections,
            seconds=seconds,
            args=args,
        )
        sample.foreign_load = self.meter.foreign_share(started)
        # Where the time goes: what the server and PostgreSQL spent per request.
        per_request_ms = 1000 / CLOCK_TICKS / max(1, sample.requests)
        server_ticks = sum(cpu_ticks(pid) for pid in item.server.pids()) - server_before
        sample.server_cpu_ms = server_ticks * per_request_ms
        sample.postgres_cpu_ms = (postgres_ticks(self.meter.database) - postgres_before) * (
            per_request_ms
        )
        item.server.wait_idle()
        return sample

    def measured(self, item: Measure, seconds: int, round_number: int) -> Sample:
        """One round; again (at most MAX_REPEATS times) when others loaded the machine."""
        for attempt in range(MAX_REPEATS + 1):
            sample = self.once(item, seconds)
            if (
                sample.foreign_load <= FOREIGN_LOAD_LIMIT
                or attempt == MAX_REPEATS
                or self.repeats_left == 0
            ):
                break
            self.repeats_left -= 1
            log(
                f"round {round_number} {item.row.label}: other processes used "
                f"{sample.foreign_load:.0%} of the machine; running it again"
            )
        errors = f", {sample.error_count} errors {sample.errors}" if sample.error_count else ""
        log(
            f"round {round_number} {item.row.label}: {_number(sample.rps)} req/s, "
            f"p50 {sample.p50_ms:.1f} ms, p99 {sample.p99_ms:.1f} ms{errors}"
        )
        return sample

    def hashing_limit(
        self, password_hash: str, hasher: PasswordHash, threads: int, round_number: int
    ) -> float:
        for attempt in range(MAX_REPEATS + 1):
            started = self.meter.start()
            rate = hashing_limit(password_hash, hasher, threads, self.profile.hash_seconds)
            share = self.meter.foreign_share(started)
            if share <= FOREIGN_LOAD_LIMIT or attempt == MAX_REPEATS or self.repeats_left == 0:
                return rate
            self.repeats_left -= 1
            log(
                f"round {round_number} hashing limit: other processes used {share:.0%} of the "
                "machine; running it again"
            )
        return rate

    def side_by_side(self, pairs: Sequence[tuple[Pair, Measure, Measure]]) -> None:
        """Each pair's two servers loaded at the same time, both pinned to one core (wrk on
        the others), for a few seconds a round; the pair's ratio is the median of its rounds.

        This machine's cores change speed from one second to the next (others' work on the
        same host): run one after the other, a server and the same server again differ by up
        to a fifth. Sharing one core at the same moments, two servers see the same core, and
        the ratio of their requests per second is the ratio of their costs; the pair of the
        reference with itself shows what is left of the noise. Which wrk starts first
        alternates from round to round (the first gains about 1%)."""
        servers = {id(m.server): m.server for _, a, b in pairs for m in (a, b)}.values()
        cores = sorted(os.sched_getaffinity(0))
        server_cpus, wrk_cpus = {cores[0]}, set(cores[1:]) or {cores[0]}
        everywhere = set(cores)
        try:
            for server in servers:
                for pid in server.pids():
                    os.sched_setaffinity(pid, server_cpus)
            self.wrk.cpus = wrk_cpus
            for pair, a, b in pairs:
                log(f"warm-up  {pair.label}")
                self.pair_ratio(a, b, self.profile.warmup, b_first=False)
            for round_number in range(1, self.profile.pair_rounds + 1):
                for pair, a, b in pairs:
                    started = self.meter.start()
                    ratio = self.pair_ratio(
                        a, b, self.profile.pair_duration, b_first=round_number % 2 == 0
                    )
                    pair.ratios.append(ratio)
                    pair.foreign_loads.append(self.meter.foreign_share(started))
                    log(f"round {round_number} {pair.label}: {ratio:.3f}")
        finally:
            self.wrk.cpus = None
            for server in servers:
                for pid in server.pids():
                    os.sched_setaffinity(pid, everywhere)

    def pair_ratio(self, a: Measure, b: Measure, seconds: int, *, b_first: bool) -> float:
        """a's requests per second ÷ b's, both under load at once."""
        analyze(self.database_url)
        order = (b, a) if b_first else (a, b)
        processes = [
            self.wrk.start(
                item.server.url + item.path,
                connections=item.row.connections,
                seconds=seconds,
                args=item.args(),
            )
            for item in order
        ]
        rps = [self.wrk.finish(process).rps for process in processes]
        for item in order:
            item.server.wait_idle()
        a_rps, b_rps = reversed(rps) if b_first else rps
        return a_rps / b_rps if b_rps else 0.0

    def interleaved(self, items: Sequence[Measure]) -> None:
        """Warm every row up, then run round 1 of every row, round 2 of every row, and so on:
        a slow moment of the machine then hits every row, not one."""
        for item in items:
            log(f"warm-up  {item.row.label}")
            self.once(item, self.profile.warmup)
        for round_number in range(1, self.profile.rounds + 1):
            for item in items:
                item.row.samples.append(self.measured(item, self.profile.duration, round_number))


def hashing_limit(password_hash: str, hasher: PasswordHash, threads: int, seconds: float) -> float:
    """Argon2 verifies per second of a bare ThreadPoolExecutor(threads), as py-auth verifies."""
    deadline = time.perf_counter() + seconds

    def work() -> int:
        done = 0
        while time.perf_counter() < deadline:
            hasher.verify(PASSWORD, password_hash)
            done += 1
        return done

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        total = sum(future.result() for future in [pool.submit(work) for _ in range(threads)])
    return total / (time.perf_counter() - start)


class RssSampler:
    """The largest VmRSS of a process, sampled every 20 ms while running."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.peak_kib = max(self.peak_kib, memory_kib(self.pid, "VmRSS"))
            self._stop.wait(0.02)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def login_args() -> list[str]:
    # The users without a second factor (the last MFA_USERS have one: seed_second_steps).
    return ["login", str(PASSWORD_ONLY_USERS), PASSWORD]


def uvicorn(*args: str) -> list[str]:
    # --no-proxy-headers, as wherever py-auth is started: TRUSTED_PROXIES alone says whose
    # X-Forwarded-For is believed (uvicorn would believe 127.0.0.1's).
    return [str(VENV_BIN / "uvicorn"), *args, "--no-access-log", "--no-proxy-headers"]


def bench(args: argparse.Namespace) -> dict[str, Any]:
    profile = QUICK if args.quick else FULL
    server_url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    if not server_url.startswith("postgresql"):
        raise SystemExit(f"The bench runs on PostgreSQL; DATABASE_URL is {server_url!r}.")
    database = f"pyauth_bench_{uuid.uuid4().hex[:10]}"
    database_url = make_url(server_url).set(database=database).render_as_string(False)
    dsn = asyncpg_dsn(database_url)
    cores = os.cpu_count() or 1
    rng = random.Random(6)  # noqa: S311  (reproducible data, not secrets)
    RESULTS.mkdir(exist_ok=True)
    workdir = RESULTS / "run"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()

    env = server_environment(database_url, secrets.token_urlsafe(64))
    # Reset mails are written as files of the run (the file transport), not sent anywhere.
    env["MAIL_URL"] = f"file://{workdir / 'mail'}"
    settings = settings_from(env)
    one_worker = ("--workers", "1")
    py_auth = Server(
        "py-auth",
        uvicorn("--factory", "app.main:create_app", *one_worker),
        env,
        workdir,
    )
    reference_argv = uvicorn(
        "--factory", "--app-dir", str(BENCH), "reference_app:create_app", *one_worker
    )
    reference = Server("reference", reference_argv, env, workdir)
    # The reference again: beside the reference, it shows the side-by-side ratios' own error.
    reference_2 = Server("reference-2", reference_argv, env, workdir)
    py_auth_2 = Server(
        "py-auth-2-workers",
        uvicorn("--factory", "app.main:create_app", "--workers", "2"),
        env,
        workdir,
    )
    # /users/me through PgBouncer in transaction mode, and, apart, what its statement-cache
    # choice (DB_POOLER=pgbouncer: no caches, unnamed statements) costs on a direct connection.
    pgbouncer = PgBouncer(database_url, settings.db_pool_size)
    pooled_env = {**env, "DATABASE_URL": pgbouncer.url, "DB_POOLER": "pgbouncer"}
    py_auth_pgbouncer = Server(
        "py-auth-pgbouncer",
        uvicorn("--factory", "app.main:create_app", *one_worker),
        pooled_env,
        workdir,
    )
    py_auth_uncached = Server(
        "py-auth-no-statement-cache",
        uvicorn("--factory", "app.main:create_app", *one_worker),
        {**env, "DB_POOLER": "pgbouncer"},
        workdir,
    )
    # Two fresh py-auth processes: /articles beside /users/me (one process serving both would
    # share its event loop between them, not its costs), and /users/me beside itself.
    py_auth_a, py_auth_b = (
        Server(
            f"py-auth-{name}",
            uvicorn("--factory", "app.main:create_app", *one_worker),
            env,
            workdir,
        )
        for name in ("a", "b")
    )
    servers = (
        py_auth,
        reference,
        reference_2,
        py_auth_2,
        py_auth_pgbouncer,
        py_auth_uncached,
        py_auth_a,
        py_auth_b,
    )
    meter = LoadMeter(
        database,
        lambda: [pid for server in (*servers, pgbouncer) for pid in server.pids()],
    )
    runner = Runner(profile, Wrk(args.wrk_threads), meter, database_url)

    log(f"database {database} on {make_url(server_url).render_as_string()}")
    create_database(server_url, database)
    try:
        pg = asyncio.run(server_info(dsn))
        machine = machine_info(pg)
        log(f"migrating ({machine['cores']} cores, PostgreSQL {pg['version']})")
        subprocess.run(  # noqa: S603
            [str(VENV_BIN / "alembic"), "upgrade", "head"],
            cwd=BACKEND,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        hasher = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.argon2_time_cost,
                    memory_cost=settings.argon2_memory_kib,
                    parallelism=settings.argon2_parallelism,
                ),
            )
        )
        started = time.perf_counter()
        password_hash = hasher.hash(PASSWORD)
        elapsed_ms = (time.perf_counter() - started) * 1000
        log(f"one Argon2 hash at shipped parameters: {elapsed_ms:.0f} ms")
        log(f"seeding {USERS:,} users and {ARTICLES:,} articles")
        user_ids = asyncio.run(seed(dsn, password_hash, rng))

        rows = {
            "ref_health": Row("ref_health", "reference GET /health", CONNECTIONS),
            "health": Row("health", "py-auth GET /health", CONNECTIONS),
            "ref_me": Row(
                "ref_me",
                f"reference GET /me ({settings.jwt_algorithm}, as py-auth)",
                CONNECTIONS,
            ),
            "me": Row(
                "me",
                f"py-auth GET /users/me ({settings.jwt_algorithm}, the default)",
                CONNECTIONS,
            ),
            "me_pat": Row(
                "me_pat", "py-auth GET /users/me with a personal access token", CONNECTIONS
            ),
            "introspect": Row(
                "introspect", "py-auth POST /auth/introspect (an access token)", CONNECTIONS
            ),
            "client_credentials": Row(
                "client_credentials",
                "py-auth POST /auth/login grant_type=client_credentials",
                CONNECTIONS,
            ),
            "articles": Row(
                "articles", "py-auth GET /articles?limit=20 (10k articles)", CONNECTIONS
            ),
            "refresh": Row(
                "refresh",
                f"py-auth POST /auth/refresh (a fresh token each, signed {settings.jwt_algorithm})",
                CONNECTIONS,
            ),
            "mfa_verify": Row(
                "mfa_verify",
                "py-auth POST /auth/mfa/verify (a fresh sign-in and recovery code each)",
                CONNECTIONS,
            ),
            "login": Row("login", "py-auth POST /auth/login", LOGIN_CONNECTIONS),
            "forgot_known": Row(
                "forgot_known",
                "py-auth POST /auth/forgot-password (known addresses)",
                CONNECTIONS,
            ),
            "forgot_unknown": Row(
                "forgot_unknown",
                "py-auth POST /auth/forgot-password (unknown addresses)",
                CONNECTIONS,
            ),
            "flood_health": Row(
                "flood_health",
                f"py-auth GET /health during a login flood ({args.probe_connections} conn.)",
                args.probe_connections,
            ),
            "flood_login": Row(
                "flood_login", "py-auth POST /auth/login, that flood", LOGIN_CONNECTIONS
            ),
            "me_2_workers": Row(
                "me_2_workers",
                "py-auth GET /users/me, uvicorn --workers 2",
                CONNECTIONS,
            ),
            "me_direct_interleaved": Row(
                "me_direct_interleaved",
                "py-auth GET /users/me, direct, interleaved with the next two",
                CONNECTIONS,
            ),
            "me_pgbouncer": Row(
                "me_pgbouncer",
                "py-auth GET /users/me through PgBouncer (transaction mode)",
                CONNECTIONS,
            ),
            "me_no_statement_cache": Row(
                "me_no_statement_cache",
                "py-auth GET /users/me, DB_POOLER=pgbouncer settings, direct",
                CONNECTIONS,
            ),
            "articles_large": Row(
                "articles_large",
                "py-auth GET /articles?limit=20 (100k articles)",
                CONNECTIONS,
            ),
        }
        pairs = {
            "same_health": Pair("same_health", "reference /health ÷ reference /health"),
            "health": Pair("health", "py-auth /health ÷ reference /health"),
            "same_me": Pair("same_me", "reference /me ÷ reference /me"),
            "me": Pair("me", "py-auth /users/me ÷ reference /me"),
            "me_pat": Pair("me_pat", "py-auth /users/me with a PAT ÷ reference /me"),
            "same_py_auth_me": Pair("same_py_auth_me", "py-auth /users/me ÷ py-auth /users/me"),
            "articles": Pair("articles", "py-auth /articles (10k) ÷ py-auth /users/me"),
        }
        access: dict[str, Any] = {"file": None, "issued": 0.0}

        def bearer(path: str) -> Callable[[], list[str]]:
            def arguments() -> list[str]:
                # Access tokens live 15 minutes: log in again when they are 10 minutes old.
                if access["file"] is None or time.monotonic() - access["issued"] > 600:
                    pairs = logins(py_auth.url, ACCESS_TOKEN_LOGINS, rng)
                    access["file"] = workdir / "access_tokens.txt"
                    access["file"].write_text("".join(p["access_token"] + "\n" for p in pairs))
                    access["issued"] = time.monotonic()
                    py_auth.wait_idle()
                return ["bearer", path, str(access["file"])]

            return arguments

        def refresh_arguments() -> list[str]:
            # An unused refresh token for every connection and a few more; then every answer
            # hands back the next one, so the pool never runs dry.
            pairs = logins(py_auth.url, CONNECTIONS + 8, rng)
            path = workdir / "refresh_tokens.txt"
            path.write_text("".join(p["refresh_token"] + "\n" for p in pairs))
            py_auth.wait_idle()
            return ["refresh", str(path), str(runner.wrk.threads_for(CONNECTIONS))]

        client_id, client_secret = asyncio.run(add_service_account(dsn))
        authorization = basic_authorization(client_id, client_secret)
        grant_body = workdir / "client_credentials.txt"
        grant_body.write_text("grant_type=client_credentials\n")
        pats: dict[str, Path] = {}

        def pat_arguments() -> list[str]:
            # Made once (they live 30 days), by users logged in for the purpose.
            if "file" not in pats:
                pairs = logins(py_auth.url, ACCESS_TOKEN_LOGINS, rng)
                pats["file"] = workdir / "personal_access_tokens.txt"
                tokens = personal_access_tokens(py_auth.url, pairs)
                pats["file"].write_text("".join(token + "\n" for token in tokens))
                py_auth.wait_idle()
            return ["bearer", "/users/me", str(pats["file"])]

        def introspect_arguments() -> list[str]:
            tokens = bearer("/users/me")()[2]  # the access tokens of the /users/me rows
            bodies = workdir / "introspect.txt"
            bodies.write_text(
                "".join(f"token={line}\n" for line in Path(tokens).read_text().split())
            )
            return ["form", "/auth/introspect", authorization, str(bodies)]

        def second_step_arguments() -> list[str]:
            pairs = asyncio.run(seed_second_steps(dsn, settings, user_ids))
            path = workdir / "second_steps.txt"
            path.write_text("".join(f"{token} {code}\n" for token, code in pairs))
            py_auth.wait_idle()
            return ["mfa", str(path), str(runner.wrk.threads_for(CONNECTIONS))]

        hash_rounds: list[float] = []
        flood: dict[str, Any] = {}
        with running(py_auth, reference):
            # 1. Throughput, interleaved round by round.
            runner.interleaved(
                [
                    Measure(rows["ref_health"], reference, "/health", lambda: ["plain"]),
                    Measure(rows["health"], py_auth, "/health", lambda: ["plain"]),
                    Measure(rows["ref_me"], reference, "/me", bearer("/me")),
                    Measure(rows["me"], py_auth, "/users/me", bearer("/users/me")),
                    Measure(rows["me_pat"], py_auth, "/users/me", pat_arguments),
                    Measure(rows["introspect"], py_auth, "/auth/introspect", introspect_arguments),
                    Measure(
                        rows["client_credentials"],
                        py_auth,
                        "/auth/login",
                        lambda: ["form", "/auth/login", authorization, str(grant_body)],
                    ),
                    Measure(
                        rows["articles"],
                        py_auth,
                        "/articles?limit=20",
                        bearer("/articles?limit=20"),
                    ),
                    Measure(rows["refresh"], py_auth, "/auth/refresh", refresh_arguments),
                    # The second step of a sign-in: no hashing, a session started as by refresh.
                    Measure(
                        rows["mfa_verify"],
                        py_auth,
                        "/auth/mfa/verify",
                        second_step_arguments,
                    ),
                    # Known and unknown addresses must not be told apart by their cost.
                    Measure(
                        rows["forgot_known"],
                        py_auth,
                        "/auth/forgot-password",
                        lambda: ["forgot", str(USERS), "known"],
                    ),
                    Measure(
                        rows["forgot_unknown"],
                        py_auth,
                        "/auth/forgot-password",
                        lambda: ["forgot", str(USERS), "unknown"],
                    ),
                ]
            )

            # 1b. The ratios to the reference, and /articles to /users/me, side by side.
            with running(reference_2, py_auth_a, py_auth_b):
                plain = lambda: ["plain"]  # noqa: E731
                ref_health = Measure(rows["ref_health"], reference, "/health", plain)
                ref_me = Measure(rows["ref_me"], reference, "/me", bearer("/me"))
                twin_me = Measure(rows["me"], py_auth_b, "/users/me", bearer("/users/me"))
                runner.side_by_side(
                    [
                        (
                            pairs["same_health"],
                            Measure(rows["ref_health"], reference_2, "/health", plain),
                            ref_health,
                        ),
                        (
                            pairs["health"],
                            Measure(rows["health"], py_auth, "/health", plain),
                            ref_health,
                        ),
                        (
                            pairs["same_me"],
                            Measure(rows["ref_me"], reference_2, "/me", bearer("/me")),
                            ref_me,
                        ),
                        (
                            pairs["me"],
                            Measure(rows["me"], py_auth, "/users/me", bearer("/users/me")),
                            ref_me,
                        ),
                        (
                            pairs["me_pat"],
                            Measure(rows["me_pat"], py_auth, "/users/me", pat_arguments),
                            ref_me,
                        ),
                        (
                            pairs["same_py_auth_me"],
                            Measure(rows["me"], py_auth_a, "/users/me", bearer("/users/me")),
                            twin_me,
                        ),
                        (
                            pairs["articles"],
                            Measure(
                                rows["articles"],
                                py_auth_a,
                                "/articles?limit=20",
                                bearer("/articles?limit=20"),
                            ),
                            twin_me,
                        ),
                    ]
                )

            # 2. Logins, alternating with the hashing limit of a bare thread pool.
            login = Measure(rows["login"], py_auth, "/auth/login", login_args)
            log(f"warm-up  {login.row.label}")
            runner.once(login, profile.login_warmup)
            for round_number in range(1, profile.rounds + 1):
                rate = runner.hashing_limit(password_hash, hasher, cores, round_number)
                hash_rounds.append(rate)
                log(f"round {round_number} hashing limit ({cores} threads): {rate:.2f} verifies/s")
                rows["login"].samples.append(
                    runner.measured(login, profile.login_duration, round_number)
                )

            # 3. /health while logins flood the worker, and the worker's memory meanwhile.
            peaks: list[int] = []
            high_water: list[int] = []
            for round_number in range(1, profile.flood_rounds + 1):
                hwm_reset = reset_peak_rss(py_auth.pid)
                started_load = meter.start()
                with RssSampler(py_auth.pid) as sampler:
                    flooding = runner.wrk.start(
                        py_auth.url + "/auth/login",
                        connections=LOGIN_CONNECTIONS,
                        seconds=profile.flood_duration,
                        args=login_args(),
                    )
                    time.sleep(1.5)  # the login queue fills up first
                    probe = runner.wrk.run(
                        py_auth.url + "/health",
                        connections=args.probe_connections,
                        seconds=profile.flood_duration - 3,
                        args=["plain"],
                    )
                    flooded = runner.wrk.finish(flooding)
                probe.foreign_load = flooded.foreign_load = meter.foreign_share(started_load)
                peaks.append(sampler.peak_kib)
                if hwm_reset:
                    high_water.append(memory_kib(py_auth.pid, "VmHWM"))
                py_auth.wait_idle()
                rows["flood_health"].samples.append(probe)
                rows["flood_login"].samples.append(flooded)
                log(
                    f"round {round_number} flood: /health p99 {probe.p99_ms:.1f} ms "
                    f"({_number(probe.rps)} req/s), logins {flooded.rps:.1f}/s, "
                    f"peak RSS {sampler.peak_kib / 1024:.0f} MiB"
                )
            peak_kib = max(peaks + high_water)
            flood = {
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "peak_rss_sampled_mib": [round(p / 1024, 1) for p in peaks],
                "vm_hwm_mib": [round(h / 1024, 1) for h in high_water],
                "rss_after_mib": round(memory_kib(py_auth.pid, "VmRSS") / 1024, 1),
            }

        # 4. /users/me with two workers.
        with running(py_auth_2):
            runner.interleaved(
                [
                    Measure(
                        rows["me_2_workers"],
                        py_auth_2,
                        "/users/me",
                        bearer("/users/me"),
                    )
                ]
            )

        # 4b. /users/me through PgBouncer, and the cost of its statement-cache choice alone.
        # The role carries the statement timeout that PgBouncer refuses as a startup parameter.
        asyncio.run(
            _on_server(
                database_url,
                f'ALTER ROLE "{make_url(database_url).username}" IN DATABASE "{database}" '
                f"SET statement_timeout = '{int(settings.db_timeout_seconds * 1000)}ms'",
            )
        )
        pgbouncer.start()
        # Round by round beside the direct row, so that the ratios compare like moments.
        with running(py_auth, py_auth_pgbouncer, py_auth_uncached):
            runner.interleaved(
                [
                    Measure(
                        rows["me_direct_interleaved"],
                        py_auth,
                        "/users/me",
                        bearer("/users/me"),
                    ),
                    Measure(
                        rows["me_pgbouncer"],
                        py_auth_pgbouncer,
                        "/users/me",
                        bearer("/users/me"),
                    ),
                    Measure(
                        rows["me_no_statement_cache"],
                        py_auth_uncached,
                        "/users/me",
                        bearer("/users/me"),
                    ),
                ]
            )
        pgbouncer.stop()

        # 5. /articles again, with 100,000 articles.
        log(f"growing the articles to {ARTICLES_LARGE:,}")
        asyncio.run(grow_articles(dsn, ARTICLES_LARGE, user_ids, rng))
        with running(py_auth):
            runner.interleaved(
                [
                    Measure(
                        rows["articles_large"],
                        py_auth,
                        "/articles?limit=20",
                        bearer("/articles?limit=20"),
                    )
                ]
            )
    finally:
        for server in servers:
            server.stop()
        pgbouncer.stop()
        drop_database(server_url, database)
        log(f"dropped {database}")

    return _result(args, profile, machine, settings, rows, pairs, hash_rounds, flood, cores)


def _result(
    args: argparse.Namespace,
    profile: Profile,
    machine: dict[str, Any],
    settings: Settings,
    rows: dict[str, Row],
    pairs: dict[str, Pair],
    hash_rounds: list[float],
    flood: dict[str, Any],
    cores: int,
) -> dict[str, Any]:
    hash_limit = statistics.median(hash_rounds)

    def ratio(numerator: str, denominator: str) -> float:
        below = rows[denominator].rps
        return rows[numerator].rps / below if below else 0.0

    targets = [
        # Issue 22: the envelope and the caller's load at nine tenths of the bare stack,
        # measured side by side (Runner.side_by_side). Both verify the default algorithm
        # (RS256): the reference reads py-auth's public keys.
        Target(f"{pairs['health'].label}, side by side", pairs["health"].ratio, ">=", 0.90),
        Target(f"{pairs['me'].label}, side by side", pairs["me"].ratio, ">=", 0.90),
        Target(f"{pairs['me_pat'].label}, side by side", pairs["me_pat"].ratio, ">=", 0.80),
        Target(f"{pairs['articles'].label}, side by side", pairs["articles"].ratio, ">=", 0.60),
        # Each refresh signs a token with the asymmetric key (BENCHMARKS.md: RS256's choice).
        Target("py-auth /auth/refresh ÷ py-auth /users/me", ratio("refresh", "me"), ">=", 0.25),
        Target(
            f"py-auth /auth/login ÷ hashing limit ({hash_limit:.2f}/s)",
            rows["login"].rps / hash_limit if hash_limit else 0.0,
            ">=",
            0.80,
        ),
        Target(
            "py-auth /health p99 during the login flood (ms)",
            rows["flood_health"].p99_ms,
            "<=",
            50,
        ),
        Target(
            "peak RSS of the worker during the login flood (MiB)",
            flood["peak_rss_mib"],
            "<=",
            250,
        ),
    ]
    reported = {
        **{
            f"{pair.label}, side by side (the instrument's own error)": pair.ratio
            for key, pair in pairs.items()
            if key.startswith("same_")
        },
        "py-auth /health ÷ reference /health, one after the other": ratio("health", "ref_health"),
        "py-auth /users/me ÷ reference /me, one after the other": ratio("me", "ref_me"),
        "py-auth /users/me with a PAT ÷ reference /me, one after the other": ratio(
            "me_pat", "ref_me"
        ),
        "py-auth /articles (10k) ÷ py-auth /users/me, one after the other": ratio("articles", "me"),
        "py-auth POST /auth/introspect ÷ py-auth /users/me": ratio("introspect", "me"),
        "py-auth client credentials grant ÷ py-auth /users/me": ratio("client_credentials", "me"),
        "py-auth /users/me, 2 workers ÷ 1 worker": ratio("me_2_workers", "me"),
        "py-auth /users/me, through PgBouncer ÷ direct": ratio(
            "me_pgbouncer", "me_direct_interleaved"
        ),
        "py-auth /users/me, without ÷ with statement caches (direct)": ratio(
            "me_no_statement_cache", "me_direct_interleaved"
        ),
        "py-auth /articles, 100k ÷ 10k articles": ratio("articles_large", "articles"),
        "py-auth /auth/mfa/verify ÷ /auth/refresh": ratio("mfa_verify", "refresh"),
        "py-auth /auth/forgot-password, unknown ÷ known addresses": ratio(
            "forgot_unknown", "forgot_known"
        ),
    }
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": machine,
        "config": {
            "users": USERS,
            "articles": ARTICLES,
            "articles_large": ARTICLES_LARGE,
            "profile": profile.__dict__,
            "wrk_threads": args.wrk_threads,
            "connections": CONNECTIONS,
            "login_connections": LOGIN_CONNECTIONS,
            "argon2": {
                "time_cost": settings.argon2_time_cost,
                "memory_kib": settings.argon2_memory_kib,
                "parallelism": settings.argon2_parallelism,
            },
            "password_hash_concurrency": settings.password_hash_concurrency,
            "db_pool_size": settings.db_pool_size,
            "db_max_overflow": settings.db_max_overflow,
            "bench_settings": {
                k: v for k, v in BENCH_SETTINGS.items() if k.lower() in Settings.model_fields
            },
            "uvicorn": (
                "--no-access-log --no-proxy-headers --workers 1 (uvloop, httptools), "
                "LOG_LEVEL=WARNING"
            ),
        },
        "rows": {key: row.as_json() for key, row in rows.items()},
        "side_by_side": {key: pair.as_json() for key, pair in pairs.items()},
        "hashing_limit": {
            "threads": cores,
            "verifies_per_second": round(hash_limit, 2),
            "rounds": [round(rate, 2) for rate in hash_rounds],
        },
        "flood": flood,
        "targets": [
            {
                "label": t.label,
                "value": round(t.value, 3),
                "target": f"{t.op} {t.bound:g}",
                "met": t.met,
            }
            for t in targets
        ],
        "reported": {key: round(value, 3) for key, value in reported.items()},
        "foreign_load_max": round(
            max(
                *(row.foreign_load for row in rows.values()),
                *(pair.foreign_load for pair in pairs.values()),
            ),
            3,
        ),
        "all_targets_met": all(t.met for t in targets),
    }


# ---------------------------------------------------------------------------------------------
# Output


def _cpu(value: float) -> str:
    return f"{value:.2f}" if value else "n/a"  # not measured (the flood rows)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def markdown(result: dict[str, Any]) -> str:
    machine = result["machine"]
    lines = [
        f"Run of {result['generated_at']} ({result['mode']}) on {machine['cores']} cores "
        f"({machine['cpu_model']}), {machine['memory_mib']:,} MiB, {machine['os']}; "
        f"Python {machine['python']}, PostgreSQL {machine['postgresql']}, {machine['wrk']}. "
        f"Other processes used at most {result['foreign_load_max']:.0%} of the machine during "
        "a kept round.",
        "",
        "| row | conn. | req/s | p50 ms | p99 ms | errors | server CPU ms/req "
        "| PostgreSQL CPU ms/req |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in result["rows"].values():
        lines.append(
            f"| {row['label']} | {row['connections']} | {_number(row['rps'])} | "
            f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']} | "
            f"{_cpu(row['server_cpu_ms_per_request'])} | "
            f"{_cpu(row['postgres_cpu_ms_per_request'])} |"
        )
    hashing = result["hashing_limit"]
    lines += [
        f"| hashing limit: Argon2 verifies/s of a bare pool of {hashing['threads']} threads "
        f"| | {hashing['verifies_per_second']:.2f} | | | |",
        "",
        "| ratio or limit | measured | target | |",
        "|---|--:|--:|---|",
    ]
    for target in result["targets"]:
        verdict = "met" if target["met"] else "**missed**"
        lines.append(
            f"| {target['label']} | {target['value']:g} | {target['target']} | {verdict} |"
        )
    for label, value in result["reported"].items():
        lines.append(f"| {label} | {value:g} | reported | |")
    lines += ["", "| side by side, round by round | median | rounds |", "|---|--:|---|"]
    for pair in result["side_by_side"].values():
        rounds = ", ".join(f"{ratio:.3f}" for ratio in pair["rounds"])
        lines.append(f"| {pair['label']} | {pair['ratio']:.3f} | {rounds} |")
    return "\n".join(lines) + "\n"


def console_table(result: dict[str, Any]) -> str:
    rows = result["rows"].values()
    width = max(len(row["label"]) for row in rows) + 2
    out = [
        f"{'row':<{width}}{'conn':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'app ms':>8}{'pg ms':>7}"
    ]
    for row in rows:
        out.append(
            f"{row['label']:<{width}}{row['connections']:>5}{_number(row['rps']):>10}"
            f"{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['errors']:>8}"
            f"{_cpu(row['server_cpu_ms_per_request']):>8}{_cpu(row['postgres_cpu_ms_per_request']):>7}"
        )
    hashing = result["hashing_limit"]
    label = f"hashing limit (verifies/s, {hashing['threads']} threads)"
    out += [f"{label:<{width}}{'':>5}{hashing['verifies_per_second']:>10.2f}", ""]
    width = max(len(t["label"]) for t in result["targets"]) + 2
    for target in result["targets"]:
        verdict = "ok" if target["met"] else "MISSED"
        out.append(
            f"{target['label']:<{width}}{target['value']:>9g}  {target['target']:<8} {verdict}"
        )
    for label, value in result["reported"].items():
        out.append(f"{label:<{width}}{value:>9g}  reported")
    out.append(f"\nother processes used at most {result['foreign_load_max']:.0%} of the machine")
    return "\n".join(out)


def update_benchmarks(table: str) -> None:
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    text = BENCHMARKS_MD.read_text()
    if begin not in text or end not in text:
        raise SystemExit(f"{BENCHMARKS_MD} lacks the {begin} ... {end} markers")
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    BENCHMARKS_MD.write_text(f"{head}{begin}\n{table}{end}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds per row")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument(
        "--probe-connections",
        type=int,
        default=4,
        help="connections of the /health probe during the login flood (default 4)",
    )
    parser.add_argument(
        "--update-benchmarks",
        action="store_true",
        help="write the figures of this (full) run into BENCHMARKS.md",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 when a target is missed",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(
            "wrk is missing. Install it: `sudo apt-get install wrk` (Debian, Ubuntu), "
            "`brew install wrk` (macOS), or build it from https://github.com/wg/wrk.",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    result = bench(args)
    result["duration_seconds"] = round(time.monotonic() - started)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (RESULTS / "latest.md").write_text(table)
    print()
    print(console_table(result))
    print(f"\nWrote {RESULTS / 'latest.json'} and latest.md ({result['duration_seconds']} s).")
    if args.update_benchmarks:
        if args.quick:
            print("Not updating BENCHMARKS.md from a quick run.")
        else:
            update_benchmarks(table)
            print(f"Updated {BENCHMARKS_MD}.")
    missed = [t["label"] for t in result["targets"] if not t["met"]]
    if missed:
        print(f"{len(missed)} target(s) missed: " + "; ".join(missed))
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
