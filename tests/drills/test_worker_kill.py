"""Drill: the arq worker killed with SIGKILL in the middle of draining the outbox loses nothing and does
nothing twice.

2,000 events wait in the outbox (written as a domain transaction writes them). A real worker process
(tests/drills/drill_worker.py, on a private redis-server) drains them into `drill_effect` in batches;
past a third it holds a batch open (written, not committed) and says so, and is killed with -9 then. A
second worker is started: it picks up from the last committed cursor. Once that cursor is at the end of the
log the worker is stopped, and every event has exactly one effect.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from bench.common import PrivateRedis
from marketplace.core import db
from tests.drills import helpers

EVENTS = 2000


def _worker(settings, redis_url: str, *args: str) -> subprocess.Popen:
    return helpers.worker(helpers.env_for(settings, settings.database_url, redis_url), "tests.drills.drill_worker",
                          *args)


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


async def test_worker_killed_mid_drain_loses_nothing_and_repeats_nothing(settings, effects, tmp_path):
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
        stalled = tmp_path / "stalled"
        # its sweeper (every second) starts the drain; past a third, it stalls inside a batch
        first = _worker(settings, redis.url, "--stall-after", str(EVENTS // 3), "--stalled-file", str(stalled))
        await helpers.wait_for(lambda: _exists(stalled), 180, "the first worker to stall inside a batch")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(60)
        at_kill = await _count()
        assert EVENTS // 3 - 50 <= at_kill < EVENTS, (at_kill, stalled.read_text())  # the open batch is gone

        second = _worker(settings, redis.url)
        await helpers.wait_for(lambda: _cursor_at(ids[-1]), 180, "the second worker to reach the end of the log")
        helpers.stop(second)  # a clean stop: nothing can arrive after this
    finally:
        for w in (first, second):
            helpers.stop(w)
        redis.stop()

    rows = await db.fetch("SELECT event_id, count(*) AS n FROM drill_effect GROUP BY event_id")
    assert sorted(r["event_id"] for r in rows) == ids  # nothing lost
    assert max(r["n"] for r in rows) == 1  # nothing done twice
    cursor = await db.fetchrow("SELECT last_id FROM outbox_cursor WHERE consumer = 'drill.effects'")
    assert cursor["last_id"] == ids[-1]


async def _exists(path) -> bool:
    return path.exists()


async def _cursor_at(last_id: int) -> bool:
    row = await db.fetchrow("SELECT last_id FROM outbox_cursor WHERE consumer = 'drill.effects'")
    return row is not None and row["last_id"] == last_id
