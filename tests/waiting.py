"""The one kind of wait tests have: for another process (never a sleep standing in for an event).

PostgreSQL's watermark (the oldest transaction still running anywhere on the server: marketplace/core/outbox.py
and audit.py) is shared with every other test run on the machine, so delivering the outbox or chaining the
audit trail can wait on someone else's transaction; a subprocess server takes its time to become ready.
`until()` polls such a condition with a generous deadline and fails, naming what it waited for and the
oldest transactions on the server; the assertion always comes after it, on what the wait produced.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg

from marketplace.core import db

# Generous: another engineer's test run may hold a transaction open for a while on this shared server.
SECONDS = 180.0
POLL = 0.05
# What PostgreSQL says while every connection of the shared server is taken (other runs give them back).
SERVER_FULL = "too many clients already"


async def oldest_transactions(limit: int = 3) -> str:
    """The oldest transactions on the server (what holds the watermark back), for a failure message."""
    rows = await db.fetch(
        "SELECT pid, datname, state, round(extract(epoch FROM now() - xact_start)) AS seconds,"
        " left(query, 100) AS query FROM pg_stat_activity WHERE backend_xid IS NOT NULL"
        " OR backend_xmin IS NOT NULL ORDER BY xact_start NULLS LAST LIMIT $1", limit)
    return "; ".join(f"pid {r['pid']} in {r['datname']} ({r['state']}, {r['seconds']} s): {r['query']!r}"
                     for r in rows) or "none"


async def until(check: Callable[[], Awaitable[bool]], what: str, *, seconds: float = SECONDS) -> None:
    """Call `check` until it returns True; after `seconds` fail, naming `what`."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}; oldest transactions on"
                                 f" the server: {await oldest_transactions()}")
        await asyncio.sleep(POLL)


async def lock_waiters() -> int:
    """Sessions of this test database waiting for a lock (PostgreSQL shows it: pg_stat_activity)."""
    row = await db.fetchrow("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
                            " AND wait_event_type = 'Lock'")
    assert row is not None
    return row["n"]


async def until_waiting_on_a_lock(n: int = 1) -> None:
    """Return once `n` sessions of this test database wait for a lock: the event a test needs to know that a
    concurrent transaction has reached the lock another one holds (instead of sleeping until it probably has)."""

    async def waiting_on_lock() -> bool:
        return await lock_waiters() >= n

    await until(waiting_on_lock, f"{n} session(s) to wait for a lock")


async def connect(dsn: str) -> asyncpg.Connection:
    """A raw connection of a test's own. The server is shared with every test run on the machine and refuses
    connections while it is full (max_connections): wait for the others to give some back, then fail."""
    deadline = time.monotonic() + SECONDS
    while True:
        try:
            return await asyncpg.connect(dsn)
        except asyncpg.TooManyConnectionsError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(POLL)
