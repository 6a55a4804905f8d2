"""Fixtures of the topology test: py-auth as deployed, started once for the module from the
files under deploy/ that the image, docker-compose.yml and docs/operations.md use:

    client --https--> nginx (deploy/nginx/py-auth.conf.template, TLS with a certificate made now)
                        --> two py-auth processes (deploy/entrypoint.sh serve, deploy/py-auth.env)
                              --> PgBouncer in transaction mode (deploy/pgbouncer/pgbouncer.ini)
                                    --> PostgreSQL (a database of this module)
                              --> Redis (the per-IP limit)

Debian's nginx and pgbouncer run with configurations of their own, in a temporary folder and
on free ports: the machine's own services are neither used nor disturbed."""

import asyncio
import contextlib
import grp
import ipaddress
import os
import pwd
import random
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis.asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.helpers import BACKEND_DIR, ON_POSTGRES
from tests.servers import (
    ENTRYPOINT,
    REPO_DIR,
    Server,
    free_port,
    poll_until,
    server_env,
    start_entrypoint_server,
)

DEPLOY_DIR = REPO_DIR / "deploy"
NGINX_TEMPLATE = DEPLOY_DIR / "nginx" / "py-auth.conf.template"
PGBOUNCER_TEMPLATE = DEPLOY_DIR / "pgbouncer" / "pgbouncer.ini"
DEPLOYMENT_SETTINGS = DEPLOY_DIR / "py-auth.env"
# Debian installs both in /usr/sbin, which is not on every PATH.
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
# The address nginx connects to py-auth from: the one proxy py-auth trusts.
PROXY_ADDRESS = "127.0.0.1"
# The server-side statement timeout, set on the role as the docs say (not a startup parameter).
STATEMENT_TIMEOUT_SECONDS = 2
# PgBouncer refuses to run as root, and nginx's workers drop root: they run as this user then.
UNPRIVILEGED_USER = "nobody"
STARTUP_SECONDS = 30.0


def render(template: Path, values: Mapping[str, str]) -> str:
    """The file with each ${NAME} filled in, as envsubst does; a name without a value fails
    (nginx's own $variables, without braces, are left alone)."""

    def value(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return re.sub(r"\$\{([A-Z_]+)\}", value, template.read_text())


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines, as docker compose's env_file and systemd's EnvironmentFile read them."""
    settings = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            settings[name.strip()] = value.strip()
    return settings


def new_client_address() -> str:
    """A loopback address of its own for one client (Linux routes all of 127.0.0.0/8 to lo): the
    proxy and py-auth see it as that client's address, and per-IP counts of other tests and
    runs, in the shared Redis, never reach it."""
    return str(ipaddress.IPv4Address("127.16.0.0") + random.randrange(1, 2**20 - 1))


def new_email() -> str:
    return f"topology-{uuid.uuid4().hex[:10]}@example.com"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, made for this run and never committed: the
    certificate's file (which the clients trust) and its key's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(PROXY_ADDRESS))]
            ),
            critical=False,
        )
        # Its own authority, so that a client can trust it as one.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = folder / "tls.crt", folder / "tls.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return certificate_file, key_file


@dataclass
class Daemon:
    """A program of the topology (nginx, PgBouncer) in a process of its own, its output in a
    file, listening on a port of 127.0.0.1."""

    argv: list[str]
    port: int
    output: Path
    process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.output.open("ab") as sink:
            # S603: a fixed command line. Popen returns once the child is forked.
            self.process = subprocess.Popen(  # noqa: S603, ASYNC220
                self.argv, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        process = self.process

        async def listening() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited:\n{self.output.read_text()}")
            return await accepts_connections(self.port)

        await poll_until(listening, STARTUP_SECONDS, f"{self.argv[0]} did not start")

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)

        async def exited() -> bool:
            return self.process is None or self.process.poll() is not None

        try:
            await poll_until(exited, 15, f"{self.argv[0]} did not stop")
        finally:
            self.kill()

    def kill(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


async def accepts_connections(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


class Nginx(Daemon):
    """nginx with deploy/nginx/py-auth.conf.template as its http configuration."""

    def __init__(self, folder: Path, certificate: Path, key: Path) -> None:
        self.folder = folder
        self.upstreams = folder / "upstreams.conf"
        https_port, self.http_port = free_port(), free_port()
        self.url = f"https://{PROXY_ADDRESS}:{https_port}"
        site = folder / "py-auth.conf"
        site.write_text(
            render(
                NGINX_TEMPLATE,
                {
                    "PY_AUTH_UPSTREAMS": str(self.upstreams),
                    "HTTP_LISTEN": f"{PROXY_ADDRESS}:{self.http_port}",
                    "HTTPS_LISTEN": f"{PROXY_ADDRESS}:{https_port}",
                    "HTTPS_PORT": str(https_port),
                    "SERVER_NAME": "localhost",
                    "TLS_CERTIFICATE": str(certificate),
                    "TLS_CERTIFICATE_KEY": str(key),
                },
            )
        )
        # What the nginx package's own nginx.conf says around conf.d/, in this folder.
        user = ""
        if os.geteuid() == 0:
            group = grp.getgrgid(pwd.getpwnam(UNPRIVILEGED_USER).pw_gid).gr_name
            user = f"user {UNPRIVILEGED_USER} {group};"
        temp = folder / "temp"
        main = folder / "nginx.conf"
        main.write_text(
            f"""{user}
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log notice;
events {{ worker_connections 512; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {site};
}}
"""
        )
        temp.mkdir()
        super().__init__(
            [NGINX, "-p", str(folder), "-c", str(main), "-e", str(folder / "error.log")],
            https_port,
            folder / "nginx.out",
        )

    def write_upstreams(self, ports: Sequence[int], down: Collection[int] = ()) -> None:
        self.upstreams.write_text(
            "".join(
                f"server 127.0.0.1:{port}{' down' if port in down else ''};\n" for port in ports
            )
        )

    def workers(self) -> set[int]:
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(child) for child in children}

    async def reload(self) -> None:
        """Reload the configuration, as `nginx -s reload` does, and return once only workers of
        the new configuration are left (the old ones finish their requests first)."""
        assert self.process is not None
        old = self.workers()
        self.process.send_signal(signal.SIGHUP)

        async def reloaded() -> bool:
            workers = self.workers()
            return bool(workers) and not workers & old

        await poll_until(reloaded, 15, f"nginx did not reload:\n{self.output.read_text()}")


@dataclass
class Topology:
    nginx: Nginx
    pgbouncer: Daemon
    servers: list[Server]
    env: dict[str, str]
    database_url: str  # PostgreSQL itself, not through PgBouncer
    pooled_url: str  # the same database through PgBouncer, as py-auth reaches it
    certificate: Path
    folder: Path
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.nginx.url

    def client(self, address: str | None = None) -> httpx.AsyncClient:
        """A client of the proxy over https, trusting the test certificate, connecting from a
        loopback address of its own (or `address`), a new connection for every request (as
        many clients would be)."""
        transport = httpx.AsyncHTTPTransport(
            verify=ssl.create_default_context(cafile=self.certificate),
            local_address=address or new_client_address(),
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        return httpx.AsyncClient(transport=transport, base_url=self.url, timeout=20)

    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    async def start_server(self, port: int | None = None) -> Server:
        output = self.folder / f"py-auth-{port or 'new'}-{uuid.uuid4().hex[:6]}.log"
        return await start_entrypoint_server(self.env, output, port)

    async def drain(self, server: Server) -> None:
        """Take a process out of the proxy's rotation: nginx sends it nothing new."""
        self.nginx.write_upstreams(self.ports(), down={server.port})
        await self.nginx.reload()

    async def restore(self) -> None:
        """Every process back in rotation."""
        self.nginx.write_upstreams(self.ports())
        await self.nginx.reload()


async def _on_database_server(database_url: str, sql: str) -> None:
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.exec_driver_sql(sql)
    await engine.dispose()


async def _redis_answers(url: str) -> bool:
    client = redis.asyncio.from_url(url, socket_connect_timeout=2)
    try:
        return bool(await client.ping())
    except redis.RedisError:
        return False
    finally:
        await client.aclose()


def _missing_requirement() -> str | None:
    if not ON_POSTGRES:
        return "needs PostgreSQL (TEST_DATABASE_URL): PgBouncer stands in front of it"
    for program, package in ((NGINX, "nginx"), (PGBOUNCER, "pgbouncer")):
        if not Path(program).exists():
            return f"{package} is missing: apt-get install {package} (Debian's package)"
    if not asyncio.run(_redis_answers(REDIS_URL)):
        return f"Redis does not answer at {REDIS_URL} (TEST_REDIS_URL)"
    return None


def _pgbouncer_ini(folder: Path, database: URL, port: int) -> Path:
    auth_file = folder / "userlist.txt"
    auth_file.write_text(f'"{database.username}" "{database.password or ""}"\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        render(
            PGBOUNCER_TEMPLATE,
            {
                "PGBOUNCER_DATABASE": str(database.database),
                "POSTGRES_HOST": database.host or "127.0.0.1",
                "POSTGRES_PORT": str(database.port or 5432),
                "POSTGRES_DB": str(database.database),
                "PGBOUNCER_LISTEN_ADDR": "127.0.0.1",
                "PGBOUNCER_PORT": str(port),
                # Its log to its output; no socket file, no pid file: nothing outside the folder.
                "PGBOUNCER_SOCKET_DIR": "",
                "PGBOUNCER_LOGFILE": "",
                "PGBOUNCER_PIDFILE": "",
                # The test's PostgreSQL trusts 127.0.0.1; PgBouncer still wants the user listed.
                "PGBOUNCER_AUTH_TYPE": "trust",
                "PGBOUNCER_AUTH_FILE": str(auth_file),
                "PGBOUNCER_POOL_SIZE": "8",
            },
        )
    )
    for path in (auth_file, ini):
        path.chmod(0o644)  # read by the unprivileged user when run as root
    return ini


@pytest.fixture(scope="module")
def topology_folder() -> Iterator[Path]:
    """Not pytest's tmp_path: its parents are private to this user, and nginx's workers and
    PgBouncer read their files as UNPRIVILEGED_USER when the tests run as root."""
    folder = Path(tempfile.mkdtemp(prefix="pyauth-topology-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def topology_database(new_database) -> str:
    """A database of this module, migrated once before any process serves, as
    `docker compose run --rm app migrate` does; the statement timeout on its role."""
    reason = _missing_requirement()
    if reason:
        pytest.skip(reason)
    database_url: str = new_database()
    env = server_env(database_url)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    migration = subprocess.run(  # noqa: S603 (a fixed command line)
        ["sh", str(ENTRYPOINT), "migrate"],  # noqa: S607
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migration.returncode == 0, migration.stdout + migration.stderr
    # The server-side timeout that py-auth cannot send through PgBouncer, on the role, in this
    # database only.
    database = make_url(database_url)
    asyncio.run(
        _on_database_server(
            database_url,
            f'ALTER ROLE "{database.username}" IN DATABASE "{database.database}" '
            f"SET statement_timeout = '{STATEMENT_TIMEOUT_SECONDS}s'",
        )
    )
    return database_url


@pytest.fixture(scope="module")
async def topology(topology_database: str, topology_folder: Path) -> AsyncIterator[Topology]:
    folder, database_url = topology_folder, topology_database
    database = make_url(database_url)
    pgbouncer_port = free_port()
    user = ["-u", UNPRIVILEGED_USER] if os.geteuid() == 0 else []
    pgbouncer = Daemon(
        [PGBOUNCER, *user, str(_pgbouncer_ini(folder, database, pgbouncer_port))],
        pgbouncer_port,
        folder / "pgbouncer.out",
    )
    certificate, key = self_signed_certificate(folder)
    nginx = Nginx(folder, certificate, key)
    pooled_url = database.set(host="127.0.0.1", port=pgbouncer_port)
    env = server_env(
        pooled_url.render_as_string(hide_password=False),
        **read_env_file(DEPLOYMENT_SETTINGS),
        DB_POOLER="pgbouncer",
        DB_TIMEOUT_SECONDS=str(STATEMENT_TIMEOUT_SECONDS),
        TRUSTED_PROXIES=PROXY_ADDRESS,
        RATE_LIMIT_STORAGE_URL=REDIS_URL,
        PUBLIC_URL=nginx.url,
        CORS_ORIGINS="",
        MAIL_URL=(folder / "mail").as_uri(),
    )
    topology = Topology(
        nginx=nginx,
        pgbouncer=pgbouncer,
        servers=[],
        env=env,
        database_url=database_url,
        pooled_url=env["DATABASE_URL"],
        certificate=certificate,
        folder=folder,
        settings=read_env_file(DEPLOYMENT_SETTINGS),
    )
    try:
        await pgbouncer.start()
        topology.servers = list(
            await asyncio.gather(topology.start_server(), topology.start_server())
        )
        nginx.write_upstreams(topology.ports())
        await nginx.start()
        yield topology
    finally:
        await nginx.stop(signal.SIGQUIT)  # nginx's graceful stop
        for server in topology.servers:
            server.kill()
        await pgbouncer.stop()
