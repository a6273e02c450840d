"""The job queue (arq on Redis). Jobs are enqueued only after the transaction commits.

Redis holds nothing that must not be lost: a job that never reaches Redis only delays its effect, because
durable work is recorded in PostgreSQL (the outbox) and swept by a database-driven cron.
"""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool

from marketplace.core import db

log = logging.getLogger(__name__)

_pool: ArqRedis | None = None
QUEUE_NAME = "marketplace:queue"


def redis_settings(url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 1
    return settings


async def start(redis_url: str) -> ArqRedis:
    global _pool
    _pool = await create_pool(redis_settings(redis_url), default_queue_name=QUEUE_NAME)
    return _pool


async def stop() -> None:
    global _pool
    if _pool is not None:
        await _pool.aclose()
        _pool = None


def get_pool() -> ArqRedis | None:
    return _pool


def set_pool(pool: ArqRedis | None) -> None:
    global _pool
    _pool = pool


async def enqueue(function: str, *args: Any, **kwargs: Any) -> bool:
    """Enqueue now (outside any transaction). Returns False, and logs, when Redis is unreachable."""
    if _pool is None:
        return False
    try:
        await _pool.enqueue_job(function, *args, **kwargs)
        return True
    except Exception:
        log.warning("could not enqueue %s; the sweeper will catch up", function, exc_info=True)
        return False


def enqueue_after_commit(function: str, *args: Any, **kwargs: Any) -> None:
    """Enqueue `function` once the current unit of work commits; nothing if it rolls back."""

    async def go() -> None:
        await enqueue(function, *args, **kwargs)

    db.after_commit(go)
