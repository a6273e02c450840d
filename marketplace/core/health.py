"""/health (the process is up) and /ready (PostgreSQL and Redis answer)."""

from __future__ import annotations

import asyncio

from litestar import Response, get

from marketplace.core import db, queue


@get("/health", tags=["operations"], summary="The process is up", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


async def _check_db() -> str:
    try:
        await asyncio.wait_for(db.fetch("SELECT 1"), timeout=2)
        return "ok"
    except Exception as exc:  # report, do not raise: this endpoint describes faults
        return f"unavailable: {type(exc).__name__}"


async def _check_redis() -> str:
    pool = queue.get_pool()
    if pool is None:
        return "unavailable: not connected"
    try:
        await asyncio.wait_for(pool.ping(), timeout=2)
        return "ok"
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"


@get("/ready", tags=["operations"], summary="PostgreSQL and Redis are reachable")
async def ready() -> Response[dict[str, object]]:
    database, redis = await asyncio.gather(_check_db(), _check_redis())
    ok = database == "ok" and redis == "ok"
    body: dict[str, object] = {"status": "ok" if ok else "unavailable",
                               "checks": {"database": database, "redis": redis}}
    return Response(body, status_code=200 if ok else 503, headers=None if ok else {"Retry-After": "5"})


ROUTES = [health, ready]
