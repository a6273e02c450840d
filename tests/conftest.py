"""Test harness: real PostgreSQL and Redis, schema built by the migrations, each test on clean tables.

Servers: TEST_DATABASE_URL / TEST_REDIS_URL when set; else the machine's servers on 127.0.0.1 (ports
TEST_PG_PORT / TEST_REDIS_PORT, default 5432 / 6379) when they answer; else embedded ones
(marketplace.embedded). Each pytest process gets its own database, built once by
running every migration; every test starts from empty tables (TRUNCATE), so tests never see each other.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from marketplace.core import clock, db, ratelimit

ROOT = Path(__file__).resolve().parent.parent


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _servers() -> tuple[str, str]:
    pg = os.environ.get("TEST_DATABASE_URL")
    redis = os.environ.get("TEST_REDIS_URL")
    # The local ports probed; point them at a free port to exercise the embedded servers.
    pg_port = int(os.environ.get("TEST_PG_PORT") or 5432)
    redis_port = int(os.environ.get("TEST_REDIS_PORT") or 6379)
    if not pg:
        if _port_open("127.0.0.1", pg_port):
            pg = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
        else:
            from marketplace import embedded

            pg = embedded.start_postgres(ROOT / ".data" / "test-pg")
    if not redis:
        if _port_open("127.0.0.1", redis_port):
            redis = f"redis://127.0.0.1:{redis_port}/{_free_redis_db(redis_port)}"
        else:
            from marketplace import embedded

            redis = embedded.start_redis(ROOT / ".data" / "test-redis")
    return pg, redis


def _free_redis_db(port: int) -> int:
    """A Redis database number (1-15) that no other live test process holds: several test runs may share
    the machine's Redis, and two runs in one database would take each other's jobs. A process claims a
    number with SET NX (its pid) and gives it back at exit; a claim whose process is gone is taken over
    (SET ... GET, so two processes cannot both take the same one)."""
    import atexit

    import redis

    client = redis.Redis(host="127.0.0.1", port=port, db=0)
    me = str(os.getpid())
    try:
        for number in range(1, 16):
            key = f"ma-test-redis-db:{number}"
            holder = None if client.set(key, me, nx=True, ex=12 * 3600) else client.get(key)
            if holder is not None:
                if Path(f"/proc/{int(holder)}").exists():
                    continue
                if client.set(key, me, ex=12 * 3600, get=True) != holder:
                    continue  # another process took it over first
            atexit.register(_release_redis_db, port, key, me)
            return number
    finally:
        client.close()
    return os.getpid() % 15 + 1  # every number held by a live run: share one


def _release_redis_db(port: int, key: str, me: str) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, db=0)
    try:
        if client.get(key) == me.encode():
            client.delete(key)
    except redis.RedisError:
        pass
    finally:
        client.close()


def _with_database(url: str, name: str) -> str:
    """The same server URL pointing at database `name` (works for host/port and socket URLs)."""
    base, _, query = url.partition("?")
    scheme_host, _, _db = base.rpartition("/")
    return f"{scheme_host}/{name}" + (f"?{query}" if query else "")


ADMIN_URL, REDIS_URL = _servers()
TEST_DB = f"ma_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
DATABASE_URL = _with_database(ADMIN_URL, TEST_DB)
db.INACTIVE_LIFETIME = 0  # the app's pool keeps the connections it opens (see DB_POOL_MIN in `settings`)


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    from marketplace.settings import load_settings

    env = {
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "OCID_PREFIX": "ocds-test01-",
        # Every test run on the machine shares one PostgreSQL server (max_connections 100), and a pool that
        # grows mid-run can be refused ("too many clients") by other runs' connections. So the run opens its
        # 12 connections at start and keeps them (db.INACTIVE_LIFETIME = 0 below): a full server fails the
        # run at once, visibly, never a test in the middle. 12 leaves the bid batcher's 8 statements room.
        "DB_POOL_MIN": "12",
        "DB_POOL_MAX": "12",
        # Webhooks are signed in tests exactly as Stripe signs them; API calls go to tests/stripe_server.py.
        "STRIPE_SECRET_KEY": "sk_test_mercadoabierto",
        "STRIPE_WEBHOOK_SECRET": "whsec_test_mercadoabierto",
        # Small sign-in limits, so tests/security reach them in a few requests (counts reset for every test).
        "RATE_LIMIT_SIGNIN_PER_IP": "20",
        "RATE_LIMIT_SIGNIN_PER_ACCOUNT": "5",
        "RATE_LIMIT_REFRESH_PER_IP": "12",
        # Sign-ins are not paced in tests (many tests sign several people in); the pacer has its own tests.
        "PASSWORD_HASH_PER_SECOND": "0",
    }
    return load_settings(env, persist_dev_keys=False)


async def _drop_abandoned_test_databases(admin: asyncpg.Connection) -> None:
    """Databases of test runs that were killed (their process is gone) would pile up on the server."""
    for row in await admin.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'ma\\_test\\_%'"):
        name = row["datname"]
        try:
            pid = int(name.split("_")[2])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def database(settings) -> AsyncIterator[str]:
    admin = await asyncpg.connect(ADMIN_URL)
    await _drop_abandoned_test_databases(admin)
    await admin.execute(f'CREATE DATABASE "{TEST_DB}"')
    await admin.close()
    db.configure(DATABASE_URL)
    from marketplace.core.migrate import migrate_all

    await migrate_all()
    yield DATABASE_URL
    await db.stop()
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
async def app(settings, database):
    from marketplace.app import create_app

    return create_app(settings)


@pytest.fixture(scope="session")
async def _client(app) -> AsyncIterator[httpx.AsyncClient]:
    # The app's lifespan and every request run on the test's own event loop (asgi-lifespan + httpx's
    # ASGITransport), so the app's connection pool is the one the tests use.
    async with LifespanManager(app) as manager:
        lifespan_state = manager._state

        async def per_request_state(scope, receive, send):
            # ASGI servers give each request a shallow copy of the lifespan state; asgi-lifespan hands
            # over the same dict every time, which would leak Litestar's per-request flags.
            await app({**scope, "state": dict(lifespan_state)}, receive, send)

        transport = httpx.ASGITransport(app=per_request_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
            yield client


_TABLES: list[str] = []


async def _truncate() -> None:
    if not _TABLES:
        rows = await db.fetch(
            "SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'migration'"
        )
        _TABLES.extend(r["t"] for r in rows)
    # A job the previous test kicked (the in-process worker drains the outbox) may still hold a table this
    # TRUNCATE locks, in the other order: PostgreSQL then cancels one of the two with a deadlock. Retrying is
    # the answer a deadlock asks for; the retry waits on the lock (no sleep) until that job's transaction ends.
    for attempt in range(5):
        try:
            async with db.unit_of_work():
                await db.execute(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE")
            return
        except asyncpg.DeadlockDetectedError:
            if attempt == 4:
                raise


@pytest.fixture
async def client(_client):
    """An HTTP client on the app (lifespan started once), over clean tables and the system clock."""
    await _truncate()
    await ratelimit.reset()  # every test starts with no sign-in or registration counted against it
    clock.reset()
    yield _client
    clock.reset()


@pytest.fixture
def fixed_clock():
    from datetime import datetime

    c = clock.FixedClock(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    clock.install(c)
    yield c
    clock.reset()


@pytest.fixture(scope="session", autouse=True)
def _one_hash_per_password():
    """Argon2id costs ~60 ms per hash by design (and far more on a loaded machine); the role harness makes
    nine users per test. Every hash stays a real, verifiable Argon2id hash; tests just reuse the one
    computed for a given password instead of salting it anew for each user."""
    from marketplace.core.auth import service as auth

    original = auth.hash_password
    hashes: dict[str, str] = {}

    def hash_password(password: str) -> str:
        if password not in hashes:
            hashes[password] = original(password)
        return hashes[password]

    auth.hash_password = hash_password
    yield
    auth.hash_password = original


@pytest.fixture
def stripe_server():
    """The local Stripe server (tests/stripe_server.py): recorded answers to the API calls Stripe gets."""
    from tests.stripe_server import StripeServer

    server = StripeServer().start()
    yield server
    server.stop()


@pytest.fixture
def pay_settings(settings, stripe_server):
    """The app's settings with STRIPE_API_BASE at the local server (jobs take their settings from ctx)."""
    import dataclasses

    return dataclasses.replace(settings, stripe_api_base=stripe_server.url)


@pytest.fixture
def embedded_data_dir():
    """A data folder for embedded servers OUTSIDE pytest's tmp_path: as root the server runs as another
    user, who must traverse every parent folder, and each pytest run (any concurrent one too) resets
    /tmp/pytest-of-root to mode 0700."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="ma-embedded-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One visible line per reason a test did not run (the browser test without Chromium, the Meilisearch
    backend without MEILI_URL...), naming the files: a skip is never only an 's' in the progress line."""
    by_reason: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        else:
            reason = str(report.longrepr)
        by_reason.setdefault(reason, set()).add(report.nodeid.split("::")[0])
        counts[reason] = counts.get(reason, 0) + 1
    for reason, files in sorted(by_reason.items()):
        terminalreporter.write_line(f"NOT RUN: {counts[reason]} test(s) in {', '.join(sorted(files))}: {reason}",
                                    yellow=True, bold=True)
