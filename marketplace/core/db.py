"""The database engine, the connection pool and the unit of work.

One transaction per request or job (`unit_of_work`). Services run inside it and never commit. Work that
leaves PostgreSQL (enqueueing a job, sending a mail) is registered with `after_commit` and runs only once the
transaction has committed; durable side effects go through the outbox instead.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine

log = logging.getLogger(__name__)


class Engine(PostgresEngine):
    """PostgresEngine without piccolo's connect-on-construction: the version check runs at start-up."""

    async def check_version(self) -> None:  # piccolo calls this from __init__; we do it in start()
        return None

    async def prep_database(self) -> None:
        return None


class PooledConnection(asyncpg.Connection):
    """A pooled connection goes back to the pool without asyncpg's reset query (advisory unlock, CLOSE ALL,
    UNLISTEN, RESET ALL): a round trip on every release, a third of a bid's, for session state this code
    never leaves on a pooled connection. asyncpg still rolls back a transaction left open. Whoever needs
    session state (a session-level advisory lock, LISTEN, a plain SET) takes a connection of its own
    (`DB.get_new_connection()`) and closes it."""

    def get_reset_query(self) -> str:
        return ""


# Configured by `start(settings)`; tables bind to it at class creation (no I/O happens then).
DB = Engine(config={})

AfterCommit = Callable[[], Awaitable[Any]]
_uow: contextvars.ContextVar[UnitOfWork | None] = contextvars.ContextVar("uow", default=None)


def configure(database_url: str, replica_url: str | None = None) -> None:
    DB.config = {"dsn": database_url}
    DB.extra_nodes = {"replica": Engine(config={"dsn": replica_url})} if replica_url else {}


# asyncpg's own default: an idle connection above the pool's needs is closed after this many seconds. The test
# harness sets 0 (never), so a test run opens its connections once, at start, on a server other runs share.
INACTIVE_LIFETIME = 300.0


async def start(database_url: str, *, min_size: int = 2, max_size: int = 20,
                replica_url: str | None = None) -> None:
    """Open the pool (and the replica's). Raises with a clear message when the server cannot be reached."""
    configure(database_url, replica_url)
    try:
        await DB.start_connection_pool(min_size=min_size, max_size=max_size, command_timeout=60,
                                       connection_class=PooledConnection,
                                       max_inactive_connection_lifetime=INACTIVE_LIFETIME)
        for node in DB.extra_nodes.values():
            await node.start_connection_pool(min_size=1, max_size=max_size, command_timeout=60,
                                             connection_class=PooledConnection)
    except (OSError, Exception) as exc:  # asyncpg raises OSError subclasses and its own errors
        await stop()
        raise RuntimeError(f"cannot connect to PostgreSQL at {redact(database_url)}: {exc}") from exc


async def stop(timeout: float = 3) -> None:
    """Close the pools. Connections not released within `timeout` seconds are terminated: a task cancelled
    at shutdown between taking a connection and BEGIN returning (piccolo's transaction never reaches its
    exit then) leaves a connection idle in transaction that a graceful close would wait for forever."""
    for engine in [DB, *DB.extra_nodes.values()]:
        pool = engine.pool
        if not pool:
            continue
        try:
            await asyncio.wait_for(pool.close(), timeout)
        except (TimeoutError, Exception) as exc:
            log.warning("closing the connection pool: %s; terminating its connections", exc or type(exc).__name__)
            pool.terminate()
        engine.pool = None


def redact(url: str) -> str:
    """A database URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def pool():
    if DB.pool is None:
        raise RuntimeError("the database pool is not started")
    return DB.pool


class UnitOfWork:
    """One database transaction plus the side effects to run once it has committed."""

    def __init__(self) -> None:
        self._after: list[AfterCommit] = []
        self.transaction: Any = None

    def after_commit(self, fn: AfterCommit) -> None:
        self._after.append(fn)

    @property
    def connection(self):
        """The asyncpg connection of this transaction, for raw SQL."""
        return self.transaction.connection

    async def _run_after_commit(self) -> None:
        for fn in self._after:
            try:
                await fn()
            except Exception:  # a lost enqueue only delays: the outbox sweeper picks it up
                log.exception("after-commit action failed; the sweeper will retry its effect")


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[UnitOfWork]:
    """Open the request's or job's transaction. Nested calls join the outer unit of work."""
    outer = _uow.get()
    if outer is not None:
        yield outer
        return
    uow = UnitOfWork()
    token = _uow.set(uow)
    try:
        async with DB.transaction() as tx:
            uow.transaction = tx
            yield uow
    finally:
        _uow.reset(token)
    await uow._run_after_commit()


def in_unit_of_work() -> bool:
    """True inside `unit_of_work()`: a statement run now joins the caller's transaction."""
    return _uow.get() is not None


def current_uow() -> UnitOfWork:
    uow = _uow.get()
    if uow is None:
        raise RuntimeError("no unit of work is open: services run inside unit_of_work()")
    return uow


def after_commit(fn: AfterCommit) -> None:
    """Run `fn` after the current transaction commits (never if it rolls back)."""
    current_uow().after_commit(fn)


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Raw SQL in the current transaction when there is one, else on a pooled connection."""
    uow = _uow.get()
    if uow is not None:
        rows = await uow.connection.fetch(sql, *args)
    else:
        async with pool().acquire() as conn:
            rows = await conn.fetch(sql, *args)
    return [dict(r) for r in rows]


async def fetchrow(sql: str, *args: Any) -> dict[str, Any] | None:
    rows = await fetch(sql, *args)
    return rows[0] if rows else None


async def execute(sql: str, *args: Any) -> str:
    uow = _uow.get()
    if uow is not None:
        return await uow.connection.execute(sql, *args)
    async with pool().acquire() as conn:
        return await conn.execute(sql, *args)
