"""Drill: the arq worker killed with SIGKILL in the middle of draining the outbox loses nothing and does
nothing twice.

2,000 events wait in the outbox (written as a domain transaction writes them). A real worker process
(tests/drills/drill_worker.py, on a private redis-server) drains them into `drill_effect` in batches;
when about a third are done it is killed with -9. A second worker is started: it picks up from the last
committed cursor. At the end every event has exactly one effect, and the cursor is at the end of the log.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import pytest

from bench.common import PrivateRedis
from marketplace.core import db
from tests.drills import helpers

EVENTS = 2000


def _worker(settings, redis_url: str) -> subprocess.Popen:
    return helpers.worker(helpers.env_for(settings, settings.database_url, redis_url), "tests.drills.drill_worker")


async def _count() -> int:
    return (await db.fetchrow("SELECT count(*) AS n FROM drill_effect"))["n"]


@pytest.fixture
async def effects(client):
    async with db.unit_of_work():
        await db.execute("DROP TABLE IF EXISTS drill_effect")
    async with db.unit_of_work():
        await db.execute("CREATE TABLE drill_effect (event_id bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())")
    yield
    async with db.unit_of_work():
        await db.execute("DROP TABLE IF EXISTS drill_effect")
    async with db.unit_of_work():
        await db.execute("DELETE FROM outbox_cursor WHERE consumer = 'drill.effects'")


async def test_worker_killed_mid_drain_loses_nothing_and_repeats_nothing(settings, effects):
    for start in range(0, EVENTS, 250):  # committed in several transactions, as requests would
        async with db.unit_of_work():
            await db.execute(
                "INSERT INTO outbox (topic, aggregate_type, aggregate_id, payload)"
                " SELECT 'drill.tick', 'drill', g::text, jsonb_build_object('n', g)"
                " FROM generate_series($1::int, $2::int) g",
                start, start + 249)
    ids = [r["id"] for r in await db.fetch("SELECT id FROM outbox WHERE topic = 'drill.tick' ORDER BY id")]
    assert len(ids) == EVENTS

    redis = PrivateRedis().start()
    first = second = None
    try:
        first = _worker(settings, redis.url)  # its sweeper (every second) starts the drain
        await helpers.wait_for(lambda: _gt(EVENTS // 3), 120, "the first worker to drain a third")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        at_kill = await _count()
        assert 0 < at_kill < EVENTS, at_kill

        second = _worker(settings, redis.url)
        await helpers.wait_for(lambda: _gt(EVENTS - 1), 180, "the second worker to finish")
        await asyncio.sleep(1.5)  # a few more sweeps: nothing more may arrive
    finally:
        for w in (first, second):
            helpers.stop(w)
        redis.stop()

    rows = await db.fetch("SELECT event_id, count(*) AS n FROM drill_effect GROUP BY event_id")
    assert sorted(r["event_id"] for r in rows) == ids  # nothing lost
    assert max(r["n"] for r in rows) == 1  # nothing done twice
    cursor = await db.fetchrow("SELECT last_id FROM outbox_cursor WHERE consumer = 'drill.effects'")
    assert cursor["last_id"] == ids[-1]


async def _gt(n: int) -> bool:
    return await _count() > n
