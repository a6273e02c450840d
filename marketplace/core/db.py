"""The database engine, the connection pool and the unit of work.

One transaction per request or job (`unit_of_work`), opened by the framework (marketplace.core.transactions).
Services run inside it and never commit. Statements that write (`execute`, a writing `fetch`, a piccolo
insert/update/delete) raise NoTransaction outside one, so a forgotten transaction fails loudly instead of
committing a change apart from its audit event. Work that leaves PostgreSQL (enqueueing a job, sending a
mail) is registered with `after_commit` and runs only once the transaction has committed; durable side
effects go through the outbox instead.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine

log = logging.getLogger(__name__)


class Engine(PostgresEngine):
    """PostgresEngine without piccolo's connect-on-construction (the version check runs at start-up), and
    whose queries that write refuse to run outside a transaction, like `execute()`."""

    async def check_version(self) -> None:  # piccolo calls this from __init__; we do it in start()
        return None

    async def prep_database(self) -> None:
        return None

    async def run_querystring(self, querystring: Any, in_pool: bool = True) -> Any:
        """piccolo's queries run in the current unit of work when there is one (its connection, whatever
        task runs them); outside one, reads use the pool and writes raise NoTransaction."""
        uow = _uow.get()
        if uow is not None and not uow.finished:
            query, args = querystring.compile_string(engine_type=self.engine_type)
            return await (await uow.connection()).fetch(query, *args)
        if self.current_transaction.get() is None and not _autocommit_writes.get():
            query, _ = querystring.compile_string(engine_type=self.engine_type)
            if is_write(query):
                raise NoTransaction("a piccolo query that writes must run inside a unit of work "
                                    "(the request's or job's transaction)")
        return await super().run_querystring(querystring, in_pool=in_pool)


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no type information
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
# Set by `autocommit_writes()`: piccolo's own machinery (the migration runner) may write outside a unit of work.
_autocommit_writes: contextvars.ContextVar[bool] = contextvars.ContextVar("autocommit_writes", default=False)
_uow: contextvars.ContextVar[UnitOfWork | None] = contextvars.ContextVar("uow", default=None)


@contextmanager
def autocommit_writes() -> Iterator[None]:
    """Let piccolo queries that write run outside a unit of work in this block, each committing on its own.
    Only for piccolo's migration runner, which records applied migrations that way."""
    token = _autocommit_writes.set(True)
    try:
        yield
    finally:
        _autocommit_writes.reset(token)


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


def pool() -> asyncpg.Pool:
    if DB.pool is None:
        raise RuntimeError("the database pool is not started")
    return DB.pool


class NoTransaction(RuntimeError):
    """A write was attempted outside a unit of work (it would have committed on its own, apart from its
    audit event), or a unit of work was opened inside another without asking to join it."""


class UnitOfWork:
    """One database transaction plus the side effects to run once it has committed.

    Opened by the framework (marketplace.core.transactions): one per unsafe HTTP request and one per job
    body. Services run inside it and never commit; `commit()` and `rollback()` belong to whoever opened it.
    The transaction begins at the first statement, not when the unit of work opens, so a request holds no
    connection while its body arrives or before it touches the database."""

    def __init__(self) -> None:
        self._after: list[AfterCommit] = []
        self._conn: asyncpg.Connection | None = None
        self._tx: Any = None
        self._starting = asyncio.Lock()
        self.finished = False

    def after_commit(self, fn: AfterCommit) -> None:
        self._after.append(fn)

    @property
    def started(self) -> bool:
        return self._conn is not None

    async def connection(self) -> asyncpg.Connection:
        """The asyncpg connection of this transaction (BEGIN runs on the first call), for raw SQL."""
        if self.finished:
            raise NoTransaction("this unit of work has already committed or rolled back")
        if self._conn is None:
            async with self._starting:
                if self._conn is None:
                    conn = await pool().acquire()
                    try:
                        tx = conn.transaction()
                        await tx.start()
                    except BaseException:
                        await pool().release(conn)
                        raise
                    self._conn, self._tx = conn, tx
        return self._conn

    async def commit(self) -> None:
        """Commit now, then run the after-commit actions. A second call does nothing."""
        if self.finished:
            return
        self.finished = True
        if self._conn is not None:
            try:
                await self._tx.commit()
            finally:
                await self._release()
        await self._run_after_commit()

    async def rollback(self) -> None:
        """Roll back now; the after-commit actions are dropped. A second call does nothing."""
        if self.finished:
            return
        self.finished = True
        self._after.clear()
        if self._conn is not None:
            try:
                await self._tx.rollback()
            finally:
                await self._release()

    async def _release(self) -> None:
        conn, self._conn, self._tx = self._conn, None, None
        if conn is not None:
            await pool().release(conn)  # a transaction still open (a failed commit) is rolled back by asyncpg

    async def _run_after_commit(self) -> None:
        after, self._after = self._after, []
        for fn in after:
            try:
                await fn()
            except Exception:  # a lost enqueue only delays: the outbox sweeper picks it up
                log.exception("after-commit action failed; the sweeper will retry its effect")


@asynccontextmanager
async def unit_of_work(*, join: bool = False) -> AsyncIterator[UnitOfWork]:
    """Open a transaction: committed when the block ends normally, rolled back when it raises (or earlier
    by `commit()` / `rollback()`). Requests and jobs get theirs from the framework
    (marketplace.core.transactions); open one by hand only where the framework does not (the CLI, a job or
    handler marked `own_transaction`, a test).

    Inside another unit of work this raises NoTransaction, unless `join=True`: then the block runs in the
    outer transaction, which alone commits."""
    outer = _uow.get()
    if outer is not None and not outer.finished:
        if not join:
            raise NoTransaction("a unit of work is already open; pass join=True to run in it")
        yield outer
        return
    uow = UnitOfWork()
    token = _uow.set(uow)
    try:
        try:
            yield uow
        except BaseException:
            await uow.rollback()
            raise
        await uow.commit()
    finally:
        _uow.reset(token)


def in_unit_of_work() -> bool:
    """True inside an open unit of work: a statement run now joins the caller's transaction."""
    uow = _uow.get()
    return uow is not None and not uow.finished


def current_uow() -> UnitOfWork:
    uow = _uow.get()
    if uow is None or uow.finished:
        raise NoTransaction("no unit of work is open: services run inside the request's or job's transaction")
    return uow


def require_transaction(what: str) -> UnitOfWork:
    """The open unit of work; NoTransaction naming `what` when there is none."""
    uow = _uow.get()
    if uow is None or uow.finished:
        raise NoTransaction(f"{what} must run inside a unit of work (the request's or job's transaction)")
    return uow


def after_commit(fn: AfterCommit) -> None:
    """Run `fn` after the current transaction commits (never if it rolls back)."""
    current_uow().after_commit(fn)


# The first keyword of a statement that writes. A write outside a unit of work would commit on its own.
_WRITES = re.compile(
    r"^\s*(?:--[^\n]*\n\s*)*(?:INSERT|UPDATE|DELETE|MERGE|TRUNCATE|COPY|CREATE|ALTER|DROP|SELECT\s+setval)\b"
    # a data-modifying CTE (`x AS (INSERT ...`), or a WITH whose main statement writes (`...) UPDATE t`)
    r"|^\s*WITH\b.*(?:\bAS\s*(?:NOT\s+)?(?:MATERIALIZED\s*)?\(\s*|\)\s*)(?:INSERT|UPDATE|DELETE|MERGE)\b",
    re.IGNORECASE | re.DOTALL,
)


def is_write(sql: str) -> bool:
    return _WRITES.match(sql) is not None


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of a statement, in the current transaction when there is one. A read may run outside one (on a
    pooled connection); a statement that writes may not (NoTransaction)."""
    uow = _uow.get()
    if uow is not None and not uow.finished:
        rows = await (await uow.connection()).fetch(sql, *args)
    else:
        if is_write(sql):
            require_transaction("a statement that writes")
        async with pool().acquire() as conn:
            rows = await conn.fetch(sql, *args)
    return [dict(r) for r in rows]


async def fetch_autocommit(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of ONE statement that is its own transaction, on a pooled connection, committed when this
    returns. For hot paths that judge and write in a single statement (a sealed bid, a group of them);
    inside a unit of work it joins it instead, so a caller's transaction (a seeder's) still covers it."""
    uow = _uow.get()
    if uow is not None and not uow.finished:
        rows = await (await uow.connection()).fetch(sql, *args)
    else:
        async with pool().acquire() as conn:
            rows = await conn.fetch(sql, *args)
    return [dict(r) for r in rows]


async def fetchrow(sql: str, *args: Any) -> dict[str, Any] | None:
    rows = await fetch(sql, *args)
    return rows[0] if rows else None


async def fetchone(sql: str, *args: Any) -> dict[str, Any]:
    """The row a statement always returns (INSERT ... RETURNING, an aggregate, a row known to exist); none
    is a bug, not a 404: LookupError names the statement."""
    row = await fetchrow(sql, *args)
    if row is None:
        raise LookupError(f"no row returned by: {sql[:120]}")
    return row


async def execute(sql: str, *args: Any) -> str:
    """Run a statement that writes, in the current transaction (NoTransaction outside one)."""
    status: str = await (await require_transaction("db.execute()").connection()).execute(sql, *args)
    return status


async def execute_autocommit(sql: str, *args: Any) -> str:
    """Run a statement on a pooled connection of its own, committed at once whatever the caller's
    transaction does. Only for writes that must not depend on it: a usage hint, a counter. Callers say why."""
    async with pool().acquire() as conn:
        status: str = await conn.execute(sql, *args)
        return status
