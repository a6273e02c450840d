"""The `marketplace` command, run as a user runs it: in a subprocess.

The serve test is the zero-setup path: no DATABASE_URL, no REDIS_URL, a fresh DATA_DIR; the embedded
PostgreSQL and Redis start, the schema is migrated, demo data is seeded, /health and /ready answer; a
signal stops everything (no server process is left); a second start on the same DATA_DIR keeps the data.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
import redis
from arq.constants import health_check_key_suffix
from stdnum.pe import ruc as ruc_mod

from marketplace import seed
from marketplace.core import db, queue
from tests import waiting
from tests.conftest import DATABASE_URL, ROOT, _truncate

MARKETPLACE = [sys.executable, "-m", "marketplace.cli"]
PASSWORD = "una clave bastante larga"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "DATABASE_REPLICA_URL", "MODE", "PORT", "HOST", "DATA_DIR")}
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MARKETPLACE, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def _servers_of(data_dir: Path) -> list[psutil.Process]:
    """Live (not zombie) postgres / redis-server processes whose command line names `data_dir`."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if proc.info["status"] != psutil.STATUS_ZOMBIE and str(data_dir) in cmdline and (
                    "postgres" in cmdline or "redis-server" in cmdline):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


class Served:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [*MARKETPLACE, "serve"], env=_env(DATA_DIR=str(data_dir), PORT=str(port)), cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait_healthy(self, timeout: float = waiting.SECONDS) -> None:  # a first start initdbs, migrates, seeds
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"serve exited with {self.proc.returncode}:\n{self.proc.stdout.read()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop(signal.SIGKILL)
        pytest.fail(f"/health did not answer within {timeout} s:\n{self.proc.stdout.read()}")

    def stop(self, sig: int) -> str:
        self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            pytest.fail(f"serve did not stop within 60 s of signal {sig}:\n{out}")
        return out


@pytest.mark.timeout(900)  # two embedded starts (initdb, migrations, demo data): minutes on a loaded machine
def test_serve_with_nothing_set_runs_embedded_and_keeps_data_across_restarts(embedded_data_dir):
    data_dir = embedded_data_dir / "data"
    port = _free_port()

    first = Served(data_dir, port)
    first.wait_healthy()
    ready = httpx.get(f"{first.url}/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    # The demo data went into the empty database: its accounts sign in.
    login = httpx.post(f"{first.url}/api/v1/auth/token", timeout=10,
                       json={"username": f"admin@{seed.DEMO_DOMAIN}", "password": seed.DEMO_PASSWORD})
    assert login.status_code == 200, login.text

    # Another command on the same DATA_DIR joins the running embedded server, and leaves it running.
    created = _run(["users", "create", "--org-kind", "agency", "--org-name", "Municipalidad de Prueba",
                    "--ruc", "20131377224", "--ubigeo", "150122", "--email", "ana@prueba.pe",
                    "--roles", "officer", "--password", PASSWORD], _env(DATA_DIR=str(data_dir)))
    assert created.returncode == 0, created.stdout + created.stderr
    assert httpx.get(f"{first.url}/ready", timeout=10).status_code == 200

    out = first.stop(signal.SIGINT)
    assert first.proc.returncode == 0, out
    assert _servers_of(data_dir) == [], out

    second = Served(data_dir, port)
    second.wait_healthy()
    login = httpx.post(f"{second.url}/api/v1/auth/token", timeout=10,
                       json={"username": "ana@prueba.pe", "password": PASSWORD})
    assert login.status_code == 200, login.text
    out = second.stop(signal.SIGTERM)
    assert second.proc.returncode == 0, out
    assert "Demo data" not in out  # not seeded twice
    assert _servers_of(data_dir) == [], out


def test_serve_fails_with_one_clear_line_when_the_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(["serve"], _env(DATA_DIR=str(tmp_path), PORT=str(port),
                                      DATABASE_URL=DATABASE_URL, REDIS_URL="redis://127.0.0.1:1/0"))
    assert result.returncode == 1
    assert result.stderr.strip() == (f"Error: cannot listen on 127.0.0.1:{port}: the port is in use"
                                     " (set PORT to another one)")


def test_serve_fails_with_one_clear_line_when_the_database_is_unreachable(tmp_path):
    result = _run(["serve"], _env(DATA_DIR=str(tmp_path), PORT=str(_free_port()),
                                  DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere",
                                  REDIS_URL="redis://127.0.0.1:1/0"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "PostgreSQL" in lines[0], result.stderr


def test_production_mode_refuses_development_keys_in_one_line(tmp_path):
    result = _run(["migrate"], _env(MODE="production", DATA_DIR=str(tmp_path), DATABASE_URL=DATABASE_URL))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: production mode needs real keys")
    assert len(result.stderr.strip().splitlines()) == 1


def test_generated_keys_satisfy_production_mode(tmp_path):
    from marketplace.settings import load_settings

    result = _run(["keys", "generate"], _env())
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if line and not line.startswith("#"))
    assert set(env) == {"JWT_SECRET", "SIGNING_KEY", "SEALING_KEY"}
    settings = load_settings({**env, "MODE": "production", "DATABASE_URL": "postgresql://db/x",
                              "REDIS_URL": "redis://r:6379/0", "DATA_DIR": str(tmp_path)})
    assert settings.production and len(settings.keys.sealing_key_bytes()) == 32


async def test_users_create_and_seed_on_a_given_database(client, tmp_path):
    env = _env(DATABASE_URL=DATABASE_URL, DATA_DIR=str(tmp_path))
    result = _run(["users", "create", "--org-kind", "oversight", "--org-name", "Contraloría Regional",
                   "--email", "auditora@control.pe", "--roles", "auditor", "--password", PASSWORD], env)
    assert result.returncode == 0, result.stderr
    row = await db.fetchrow("SELECT u.roles, o.kind FROM app_user u JOIN organisation o ON o.id = u.organisation_id"
                            " WHERE u.email = 'auditora@control.pe'")
    assert row == {"roles": ["auditor"], "kind": "oversight"}

    bad = _run(["users", "create", "--org-kind", "agency", "--org-name", "X", "--ruc", "20131377225",
                "--email", "x@y.pe", "--roles", "officer", "--password", PASSWORD], env)
    assert bad.returncode == 2 and "--ruc" in bad.stderr

    # The database has data now: seeding refuses and writes nothing.
    refused = _run(["seed", "--demo"], env)
    assert refused.returncode == 0 and "nothing seeded" in refused.stdout
    assert (await db.fetchrow("SELECT count(*) AS n FROM organisation"))["n"] == 1

    await _truncate()
    seeded = _run(["seed", "--demo"], env)
    assert seeded.returncode == 0, seeded.stderr
    rucs = [r["ruc"] for r in await db.fetch("SELECT ruc FROM organisation WHERE ruc IS NOT NULL")]
    assert rucs and all(ruc_mod.is_valid(r) for r in rucs)


async def test_audit_verify_reports_an_intact_trail_then_the_first_broken_link(client, tmp_path):
    from marketplace.core import audit
    from marketplace.core.actor import SYSTEM

    env = _env(DATABASE_URL=DATABASE_URL, DATA_DIR=str(tmp_path))
    for n in range(5):
        async with db.unit_of_work():
            await audit.record(actor=SYSTEM, action="test.done", entity_type="test", entity_id=n, data={"n": n})
    async def verified() -> bool:
        # Events are chained once every older transaction has ended; another session on this server (a
        # concurrent test run) can hold that back: wait for it, and fail (never skip) if it never ends.
        ok = await asyncio.to_thread(_run, ["audit", "verify"], env)
        if ok.returncode == 1 and waiting.SERVER_FULL in ok.stderr:
            return False  # the shared server is full for a moment: other runs give connections back
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "intact" in ok.stdout
        return "events checked: 5;" in ok.stdout

    await waiting.until(verified, "`audit verify` to chain and check the 5 events")

    # Someone with database access rewrites history behind the trigger's back.
    async with db.unit_of_work():
        await db.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_immutable")
    try:
        async with db.unit_of_work():
            await db.execute("UPDATE audit_event SET data = '{\"email\": \"x@y.pe\"}' WHERE seq = 3")
    finally:
        async with db.unit_of_work():
            await db.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_immutable")
    broken = _run(["audit", "verify"], env)
    assert broken.returncode == 1
    assert "first broken link: seq 3" in broken.stderr


def test_worker_runs_until_sigterm(tmp_path):
    from tests.conftest import REDIS_URL

    health = redis.Redis.from_url(REDIS_URL)
    key = f"{queue.QUEUE_NAME}{health_check_key_suffix}"
    health.delete(key)
    def start() -> subprocess.Popen:
        return subprocess.Popen([*MARKETPLACE, "worker"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                env=_env(DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, DATA_DIR=str(tmp_path)))

    proc = start()
    try:
        # Running: started up (its pools open) and polling the queue, which it reports in its health-check key.
        deadline = time.monotonic() + waiting.SECONDS
        while not health.exists(key):
            assert time.monotonic() < deadline, "the worker never wrote its health check"
            if proc.poll() is not None:
                out = proc.stdout.read()
                assert waiting.SERVER_FULL in out, out  # else it failed for a reason of its own
                proc = start()  # the shared server was full for a moment: start again
            time.sleep(waiting.POLL)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        health.close()


def test_worker_without_redis_says_why(tmp_path):
    result = _run(["worker"], _env(DATABASE_URL=DATABASE_URL, DATA_DIR=str(tmp_path)))
    assert result.returncode == 1 and "REDIS_URL is not set" in result.stderr
