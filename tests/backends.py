"""Real PostgreSQL and Redis servers for the tests, started once per session on loopback ports.

Missing binaries skip the tests that need them, with the reason, except in CI
(`CI` set), where they fail: CI installs both, so a missing one is a broken set-up.
As root, PostgreSQL runs as the `postgres` user (it refuses to run as root). The servers are
children of the test process and get SIGTERM when it dies, so a killed run leaves none behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

START_TIMEOUT_S = 30.0
PR_SET_PDEATHSIG = 1
OWNER_FILE = "owner.pid"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing(what: str) -> None:
    """Skip (or, in CI, fail) because `what` is not installed."""
    reason = f"{what} is not installed (apt-get install redis-server postgresql)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must have it", pytrace=False)
    pytest.skip(reason)


def _die_with_parent(user: str | None = None) -> Callable[[], None]:
    """A `preexec_fn`: become `user` (when given), then get SIGTERM when the test process dies,
    so a killed pytest leaves no server behind (set after the uid change, which clears it)."""

    def child() -> None:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return child


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _temp_folder(prefix: str) -> Path:
    """A new temp folder marked with this process's id; folders of dead test runs are removed."""
    for old in glob.glob(os.path.join(tempfile.gettempdir(), f"{prefix}*", OWNER_FILE)):
        with contextlib.suppress(OSError, ValueError):
            if not _alive(int(Path(old).read_text())):
                shutil.rmtree(Path(old).parent, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    (folder / OWNER_FILE).write_text(str(os.getpid()))
    return folder


def _wait_port(port: int, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} after {START_TIMEOUT_S}s")


class RedisServer:
    """A `redis-server` on one port that can be stopped and started again on the same port."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.folder), "--loglevel", "warning"]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent()
        )
        _wait_port(self.port, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"FLUSHALL\r\n")
            if not s.recv(64).startswith(b"+OK"):
                raise RuntimeError("redis FLUSHALL failed")


def _postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key)
    return candidates[-1] if candidates else None


def _version_key(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


class PostgresServer:
    """A throw-away cluster: its data and socket in a temp folder, fsync off, loopback TCP.

    `postgres` runs as a child of the test process (not daemonized by pg_ctl) so that it
    dies with it.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = _temp_folder("qrstream-pg-")
        self.data = self.folder / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None  # it refuses to run as root
        self.proc: subprocess.Popen[bytes] | None = None
        self.used: list[str] = []  # test databases not dropped yet

    def start(self) -> None:
        (self.folder / "sock").mkdir()
        if self.user is not None:
            shutil.chown(self.folder, self.user, self.user)
            shutil.chown(self.folder / "sock", self.user, self.user)
        initdb = [str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust"]
        # C: whatever locales the machine has
        self._tool("initdb", [*initdb, "-E", "UTF8", "--locale=C", "--no-sync"], timeout=120)
        settings = {
            "port": str(self.port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.folder / "sock"),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
        }
        self._args = [str(self.bindir / "postgres"), "-D", str(self.data)]
        for name, value in settings.items():
            self._args += ["-c", f"{name}={value}"]
        self._launch()

    def _tool(self, what: str, args: list[str], *, timeout: float) -> None:
        """Run one of PostgreSQL's tools as the server's user, in its folder; raise with its output
        when it fails."""
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.folder,
            preexec_fn=_die_with_parent(self.user),
        )
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed: {done.stdout}{done.stderr}")

    def _launch(self) -> None:
        with open(self.folder / "postgres.log", "ab") as log:
            self.proc = subprocess.Popen(
                self._args, stdout=log, stderr=log, cwd=self.folder, preexec_fn=_die_with_parent(self.user)
            )
        self._wait_ready()

    def pause(self) -> None:
        """An outage: `pg_ctl stop -m fast` (sessions terminated, the data kept). Blocking: call it
        from a thread, not on an event loop."""
        stop = [str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "60"]
        self._tool("pg_ctl stop", stop, timeout=90)
        assert self.proc is not None
        self.proc.wait(timeout=30)

    def resume(self) -> None:
        """The end of the outage: the same cluster started again on the same data folder and port
        (as a child of the test process, like `start`). Blocking, as `pause` is."""
        self._launch()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                log = (self.folder / "postgres.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"postgres exited with {self.proc.returncode}: {log}")
            try:
                _admin_sql(self, "SELECT 1")
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                time.sleep(0.05)
        raise RuntimeError(f"postgres did not accept connections within {START_TIMEOUT_S}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # immediate shutdown: the data is thrown away
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis for the session (each test gets it flushed through `redis_url`)."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server")
    folder = _temp_folder("qrstream-redis-")
    server = RedisServer(str(binary), folder)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    if redis_server.proc is None:
        redis_server.start()
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def make_redis(tmp_path: Path) -> Iterator[Callable[[], RedisServer]]:
    """A Redis of this test's own (for tests that stop and restart it), stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server")
    servers: list[RedisServer] = []

    def make() -> RedisServer:
        server = RedisServer(str(binary), tmp_path)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


def _postgres_bindir() -> Path:
    initdb = _postgres_bin("initdb")
    if initdb is None or not (Path(initdb).resolve().parent / "postgres").exists():
        missing("PostgreSQL (initdb, postgres)")
    return Path(str(initdb)).resolve().parent


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of this test's own (for tests that stop and start it), removed afterwards."""
    server = PostgresServer(_postgres_bindir())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the session (each test gets a fresh database)."""
    server = PostgresServer(_postgres_bindir())
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    yield server
    server.stop()


def _admin_sql(server: PostgresServer, sql: str) -> None:
    """Run one statement on the maintenance database, on a thread of its own (callable from
    inside a running event loop)."""

    async def run() -> None:
        conn = await asyncpg.connect(server.url())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result(timeout=60)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's cluster.

    The previous test's database is dropped here rather than at its teardown, which may run
    before that test's app (and its pool) has closed.
    """
    for old in postgres_server.used:
        _admin_sql(postgres_server, f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
    postgres_server.used.clear()
    name = f"t_{uuid.uuid4().hex[:16]}"
    _admin_sql(postgres_server, f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')  # 3x faster here
    postgres_server.used.append(name)
    return postgres_server.url(name)
