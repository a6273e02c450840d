"""Where oversight reads from: the replica when DATABASE_REPLICA_URL is set, else the primary.

Oversight's queries are read-only and may lag the primary by the replica's delay (the award history is a
derived read model anyway). `read_connection()` yields an asyncpg connection inside a READ ONLY
transaction; `replica_in_use()` tells which node answered (for tests and /metrics).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from marketplace.core import db


def _engine() -> Any:
    replica = db.DB.extra_nodes.get("replica")
    if replica is not None and replica.pool is not None:
        return replica
    return db.DB


def replica_in_use() -> bool:
    return _engine() is not db.DB


@asynccontextmanager
async def read_connection() -> AsyncIterator[Any]:
    engine = _engine()
    if engine.pool is None:
        raise RuntimeError("the database pool is not started")
    async with engine.pool.acquire() as conn, conn.transaction(readonly=True):
        yield conn


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    async with read_connection() as conn:
        return [dict(r) for r in await conn.fetch(sql, *args)]


async def fetchrow(sql: str, *args: Any) -> dict[str, Any] | None:
    rows = await fetch(sql, *args)
    return rows[0] if rows else None
