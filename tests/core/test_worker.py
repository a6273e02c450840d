"""The arq worker: settings gathered from JOB_MODULES, a real Worker on Redis draining the outbox."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from arq.connections import create_pool
from arq.worker import Worker

from marketplace import worker as worker_mod
from marketplace.core import audit, db, outbox, queue
from tests import waiting


@pytest.fixture
def collector():
    got: list[outbox.OutboxEvent] = []

    async def handle(events: list[outbox.OutboxEvent]) -> None:
        got.extend(events)

    outbox.consumer("test.worker")(handle)
    yield got
    outbox.unregister("test.worker")


@pytest.fixture
async def own_queue(settings):
    """An enqueue pool on a queue of this test's own, so no other process's worker takes our jobs."""
    name = f"test:{uuid.uuid4().hex}"
    pool = await create_pool(queue.redis_settings(settings.redis_url), default_queue_name=name)
    saved = queue.get_pool()
    queue.set_pool(pool)
    yield name, pool
    queue.set_pool(saved)
    await pool.delete(name, f"arq:job:{outbox.KICK_JOB_ID}:{name}", f"arq:job:{outbox.FOLLOW_UP_JOB_ID}:{name}")
    await pool.aclose()


async def test_emit_kicks_a_drain_only_after_commit_coalesced(client, own_queue):
    """A rolled-back transaction leaves no row and enqueues nothing; kicks coalesce while one waits."""
    name, pool = own_queue
    with pytest.raises(RuntimeError):
        async with db.unit_of_work():
            await outbox.emit(topic="x", aggregate_type="tender", aggregate_id="T-1")
            raise RuntimeError("refused")
    assert await pool.zcard(name) == 0
    assert (await db.fetchrow("SELECT count(*) AS n FROM outbox"))["n"] == 0
    for _ in range(3):
        async with db.unit_of_work():
            for i in range(3):
                await outbox.emit(topic="x", aggregate_type="tender", aggregate_id="T-1", payload={"i": i})
    assert await pool.zcard(name) == 1  # one drain waiting covers every commit before it runs
    assert (await db.fetchrow("SELECT count(*) AS n FROM outbox"))["n"] == 9


def test_worker_settings(settings):
    ws = worker_mod.worker_settings(settings)
    names = {f.name for f in ws["functions"]}
    assert {"outbox_drain", "audit_chain"} <= names
    assert {"outbox_sweep", "audit_chain_cron"} <= {c.name for c in ws["cron_jobs"]}
    assert ws["queue_name"] == queue.QUEUE_NAME
    assert ws["poll_delay"] <= 0.1 and ws["max_jobs"] >= 100 and ws["keep_result"] == 0
    assert ws["handle_signals"] is True
    assert worker_mod.worker_settings(settings, in_process=True)["handle_signals"] is False


async def test_a_real_worker_processes_the_drain_that_emit_enqueued(client, settings, collector, own_queue):
    name, pool = own_queue
    async with db.unit_of_work():
        await outbox.emit(topic="tender.published", aggregate_type="tender", aggregate_id="T-1", payload={"a": 1})
    # emit() enqueued outbox_drain after commit, on our queue
    assert await pool.zcard(name) == 1

    runs = 0

    async def burst() -> bool:  # a burst worker stops when the queue is empty; the watermark may defer delivery
        nonlocal runs
        if runs:
            await pool.enqueue_job(outbox.DRAIN_JOB)
        runs += 1
        w = Worker(**worker_mod.worker_settings(settings, in_process=True, burst=True, queue_name=name,
                                                cron_jobs=[]))  # no sweeper: the enqueued job must do it
        await asyncio.wait_for(w.async_run(), timeout=waiting.SECONDS)
        assert w.jobs_failed == 0
        await w.close()
        return bool(collector)

    await waiting.until(burst, "the worker's drain to deliver")
    assert [(e.topic, e.payload) for e in collector] == [("tender.published", {"a": 1})]


async def test_in_process_worker_starts_drains_and_closes(client, settings, own_queue):
    name, _ = own_queue
    collector: list[outbox.OutboxEvent] = []
    delivered = asyncio.Event()

    async def deliver(events: list[outbox.OutboxEvent]) -> None:
        collector.extend(events)
        delivered.set()

    outbox.consumer("test.worker")(deliver)
    handle = await worker_mod.start_in_process(settings, queue_name=name)
    try:
        async with db.unit_of_work():
            await outbox.emit(topic="bid.submitted", aggregate_type="bid", aggregate_id="B-1")
        async with db.unit_of_work():
            await audit.record(actor=__import__("marketplace.core.actor", fromlist=["SYSTEM"]).SYSTEM,
                               action="bid.submitted", entity_type="bid", entity_id="B-1")
        await asyncio.wait_for(delivered.wait(), timeout=waiting.SECONDS)  # the watermark may defer delivery
        assert [e.aggregate_id for e in collector] == ["B-1"]
    finally:
        await asyncio.wait_for(handle.close(), timeout=60)
        outbox.unregister("test.worker")
    assert handle.task.done()
    # the app's pools are untouched by the in-process worker's shutdown
    assert (await db.fetchrow("SELECT 1 AS one"))["one"] == 1


async def test_close_after_a_job_was_cancelled_while_finishing_still_shuts_down(settings, own_queue):
    """SIGTERM landing while a job records its result leaves that run_job task cancelled: close() must still
    run on_shutdown and return (a clean stop exits 0), not re-raise the cancellation."""
    name, _ = own_queue
    shut: list[bool] = []

    async def noop(ctx):
        return None

    async def on_shutdown(ctx):
        shut.append(True)

    pool = await create_pool(queue.redis_settings(settings.redis_url), default_queue_name=name)
    worker = worker_mod._Worker(functions=[noop], redis_pool=pool, queue_name=name, handle_signals=False,
                                on_shutdown=on_shutdown)
    finishing = asyncio.ensure_future(asyncio.sleep(10))
    worker.tasks["job-1"] = finishing
    finishing.cancel()
    await asyncio.wait_for(worker.close(), timeout=60)  # a hang detector: close() must return at all
    assert shut == [True]
    assert finishing.cancelled()


async def test_run_is_a_worker_process_that_chains_and_stops_on_sigterm(client, settings, tmp_path):
    """`marketplace worker` (worker.run): opens its own pools, runs the crons, stops cleanly on SIGTERM."""
    import os
    import signal
    import sys
    from pathlib import Path

    from marketplace.core.actor import SYSTEM

    async with db.unit_of_work():
        await audit.record(actor=SYSTEM, action="tender.published", entity_type="tender", entity_id="T-1")
    code = (f"import marketplace.core.queue as q; q.QUEUE_NAME = 'test:{uuid.uuid4().hex}'; "
            "from marketplace.settings import load_settings; from marketplace.worker import run; "
            "run(load_settings())")
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "DATA_DIR": str(tmp_path), "MODE": "development", "DB_POOL_MIN": "1", "DB_POOL_MAX": "2"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env, cwd=Path(__file__).parents[2],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        async def chained() -> bool:
            row = await db.fetchrow("SELECT count(*) FILTER (WHERE seq IS NULL) AS pending FROM audit_event")
            return row["pending"] == 0 or proc.returncode is not None

        await waiting.until(chained, "the worker's audit_chain cron to chain the event")
        assert proc.returncode is None, (await proc.stdout.read()).decode()[-3000:]
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, out.decode()[-3000:]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
