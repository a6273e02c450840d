"""The outbox: nothing lost between commit and Redis, nothing skipped when a transaction commits late,
nothing delivered twice by parallel drains, a consumer's own writes committed with its cursor."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

import asyncpg
import pytest

from marketplace.core import db, jobs, outbox, queue

WAIT = 20  # seconds: a session of this database holding a transaction open delays delivery


@pytest.fixture
def collector():
    """A registered consumer that records what it is given."""
    got: list[outbox.OutboxEvent] = []

    async def handle(events: list[outbox.OutboxEvent]) -> None:
        got.extend(events)

    outbox.consumer("test.collector")(handle)
    yield got
    outbox.unregister("test.collector")


async def emit(aggregate_id: str, n: int = 1, topic: str = "tender.updated", start: int = 0) -> None:
    async with db.unit_of_work():
        for i in range(start, start + n):
            await outbox.emit(topic=topic, aggregate_type="tender", aggregate_id=aggregate_id, payload={"n": i})


async def until(cond, step, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        await step()
        if cond():
            return
        if time.monotonic() > deadline:
            raise AssertionError("not delivered in time")
        await asyncio.sleep(0.05)


async def test_emitted_event_reaches_the_consumer_with_its_fields(client, collector):
    await emit("T-1", 2)
    await until(lambda: len(collector) == 2, lambda: outbox.drain("test.collector"))
    e = collector[0]
    assert isinstance(e, outbox.OutboxEvent)
    assert (e.topic, e.aggregate_type, e.aggregate_id, e.payload) == ("tender.updated", "tender", "T-1", {"n": 0})
    assert e.created_at.tzinfo is not None and collector[1].id > e.id
    assert (await outbox.pending())["test.collector"] == 0


async def test_redelivery_after_a_crash_between_commit_and_enqueue(client, collector):
    """The transaction commits, the Redis enqueue never happens: the database-driven sweeper delivers."""
    saved = queue.get_pool()
    queue.set_pool(None)  # the kick is lost (Redis down, or the process died right after commit)
    try:
        await emit("T-1", 3)
    finally:
        queue.set_pool(saved)
    assert collector == []
    assert (await outbox.pending())["test.collector"] == 3
    await until(lambda: len(collector) == 3, lambda: jobs.outbox_sweep({}))
    assert [e.payload["n"] for e in collector] == [0, 1, 2]
    # Running the sweeper (or a drain) again delivers nothing twice.
    await jobs.outbox_sweep({})
    await jobs.outbox_drain({})
    assert len(collector) == 3


async def test_a_row_committing_late_is_not_skipped(client, collector, settings):
    """An older transaction holds its outbox row open while a later one commits and is drained; once
    the first commits, both are delivered, in order for the aggregate."""
    late = await asyncpg.connect(db.DB.config["dsn"])
    try:
        await late.execute("BEGIN")
        await late.execute(
            "INSERT INTO outbox (topic, aggregate_type, aggregate_id, payload) VALUES"
            " ('tender.updated', 'tender', 'T-1', '{\"n\": 1}')")
        await emit("T-1", start=2)  # commits first, with a later transaction id
        result = await outbox.drain("test.collector")
        assert collector == [] and result.held_back  # the cursor did not jump over the open row
        await late.execute("COMMIT")
    finally:
        await late.close()
    await until(lambda: len(collector) == 2, lambda: outbox.drain("test.collector"))
    assert [e.payload["n"] for e in collector] == [1, 2]


async def test_a_transaction_in_another_database_does_not_hold_delivery_back(client, collector):
    """The watermark is this database's: a session of another database on the same server, holding a
    transaction id open, can never write our outbox, so it must not delay it (a training sandbox or a report
    beside production). A transaction of this database still does (the test above)."""
    from tests.conftest import ADMIN_URL

    other = await asyncpg.connect(ADMIN_URL)  # the server's maintenance database, not ours
    try:
        await other.execute("BEGIN")
        await other.fetchval("SELECT pg_current_xact_id()")  # takes a transaction id and keeps it open
        await emit("T-9")  # commits after the other transaction began, so with a later id
        result = await outbox.drain("test.collector")
        assert [e.aggregate_id for e in collector] == ["T-9"] and not result.held_back
        chained = await db.fetchrow("SELECT local_xmin() < pg_snapshot_xmin(pg_current_snapshot()) AS below")
        assert chained is not None and chained["below"] is False  # ours is never older than the server's
    finally:
        await other.execute("ROLLBACK")
        await other.close()


async def test_two_drains_in_parallel_deliver_each_event_once(client):
    got: list[int] = []

    async def slow(events: list[outbox.OutboxEvent]) -> None:
        await asyncio.sleep(0.05)  # hold the batch long enough for the other drains to collide
        got.extend(e.id for e in events)

    outbox.consumer("test.slow", batch_size=25)(slow)
    try:
        for i in range(10):
            await emit(f"T-{i}", 20)
        busy = 0

        async def step() -> None:
            nonlocal busy
            results = await asyncio.gather(*(outbox.drain("test.slow") for _ in range(4)))
            busy += sum(r.busy for r in results)

        await until(lambda: len(got) >= 200, step)
    finally:
        outbox.unregister("test.slow")
    assert len(got) == 200 and max(Counter(got).values()) == 1
    assert got == sorted(got)  # one transaction after another, in (txid, id) order
    assert busy > 0  # the drains did run into each other, and stood aside


async def test_a_failing_handler_rolls_back_its_writes_backs_off_and_gets_the_batch_again(client, fixed_clock):
    """The handler's own PostgreSQL writes commit with the cursor, or not at all; after a failure the
    consumer waits (1 s, 2 s, ...) and then gets the same batch again."""
    async with db.unit_of_work():
        await db.execute("CREATE TABLE IF NOT EXISTS test_outbox_seen (event_id bigint PRIMARY KEY)")
    calls = {"n": 0}

    async def handle(events: list[outbox.OutboxEvent]) -> None:
        calls["n"] += 1
        for e in events:
            await db.execute("INSERT INTO test_outbox_seen VALUES ($1)", e.id)
        if calls["n"] <= 2:
            raise RuntimeError("search is down")

    outbox.consumer("test.writer")(handle)
    try:
        await emit("T-1", 3)
        results: list[outbox.DrainResult] = []

        async def step() -> None:
            results.append(await outbox.drain("test.writer"))

        await until(lambda: calls["n"] >= 1, step)  # the watermark may hold the first attempt back
        assert results[-1].failed and results[-1].delivered == 0
        assert (await db.fetchrow("SELECT count(*) AS n FROM test_outbox_seen"))["n"] == 0

        # backing off: an immediate drain does not call the handler
        again = await outbox.drain("test.writer")
        assert again.deferred and calls["n"] == 1
        [st] = [s for s in await outbox.status() if s.consumer == "test.writer"]
        assert (st.failures, st.pending, st.last_error) == (1, 3, "RuntimeError: search is down")
        assert st.retry_at == fixed_clock.now() + timedelta(seconds=1)

        fixed_clock.advance(seconds=1)
        assert (await outbox.drain("test.writer")).failed and calls["n"] == 2
        [st] = [s for s in await outbox.status() if s.consumer == "test.writer"]
        assert st.failures == 2 and st.retry_at == fixed_clock.now() + timedelta(seconds=2)

        fixed_clock.advance(seconds=2)
        done = await outbox.drain("test.writer")
        assert done.delivered == 3 and calls["n"] == 3
        assert (await db.fetchrow("SELECT count(*) AS n FROM test_outbox_seen"))["n"] == 3
        [st] = [s for s in await outbox.status() if s.consumer == "test.writer"]
        assert (st.failures, st.pending, st.last_error, st.retry_at) == (0, 0, None, None)
    finally:
        outbox.unregister("test.writer")
        async with db.unit_of_work():
            await db.execute("DROP TABLE test_outbox_seen")


async def test_topic_filter_moves_the_cursor_past_other_topics(client):
    got: list[str] = []

    async def handle(events: list[outbox.OutboxEvent]) -> None:
        got.extend(e.topic for e in events)

    outbox.consumer("test.bids", topics=["bid.*", "award.made"])(handle)
    try:
        async with db.unit_of_work():
            for topic in ["tender.published", "bid.submitted", "award.made", "bid.withdrawn", "awards.x"]:
                await outbox.emit(topic=topic, aggregate_type="tender", aggregate_id="T-1")
        await until(lambda: len(got) == 3, lambda: outbox.drain("test.bids"))
        assert got == ["bid.submitted", "award.made", "bid.withdrawn"]
        assert (await outbox.pending())["test.bids"] == 0
    finally:
        outbox.unregister("test.bids")


async def test_prune_deletes_only_what_every_consumer_has_passed(client, collector, monkeypatch):
    slow: list[int] = []

    async def handle(events: list[outbox.OutboxEvent]) -> None:
        slow.extend(e.id for e in events)

    outbox.consumer("test.behind", batch_size=2)(handle)
    # only this test's consumers (other packages' consumers are registered in this process too)
    monkeypatch.setattr(outbox, "_consumers", {k: v for k, v in outbox._consumers.items() if k.startswith("test.")})
    try:
        await emit("T-1", 5)
        assert await outbox.prune(older_than=timedelta(0)) == 0  # nobody has drained yet
        await until(lambda: len(collector) == 5, lambda: outbox.drain("test.collector"))
        assert await outbox.prune(older_than=timedelta(0)) == 0  # test.behind has no cursor yet
        # test.behind takes one batch of 2
        await until(lambda: len(slow) >= 2, lambda: _one_batch("test.behind"))
        assert await outbox.prune(older_than=timedelta(days=1)) == 0  # too recent
        assert await outbox.prune(older_than=timedelta(0)) == len(slow)
        left = [r["id"] for r in await db.fetch("SELECT id FROM outbox ORDER BY id")]
        assert left == [e.id for e in collector if e.id not in slow]
        await until(lambda: len(slow) == 5, lambda: outbox.drain("test.behind"))
        assert slow == [e.id for e in collector]  # nothing it had not seen was deleted
    finally:
        monkeypatch.undo()
        outbox.unregister("test.behind")


async def _one_batch(name: str) -> None:
    await outbox._drain_batch(outbox.consumers()[name], outbox.DrainResult())


async def test_the_cursor_follows_transaction_ids_as_numbers_not_text(client):
    """Rows are read in (txid, id) order of the xid8 column. Ordered by its text ('10' before '9'), a batch
    would end at txid 11 and the cursor would jump over 8 and 9 for good."""
    got: list[int] = []

    async def handle(events: list[outbox.OutboxEvent]) -> None:
        got.extend(e.payload["n"] for e in events)

    outbox.consumer("test.digits", batch_size=2)(handle)
    try:
        for txid in (8, 9, 10, 11):  # finished long ago: below any watermark
            async with db.unit_of_work():
                await db.execute("INSERT INTO outbox (txid, topic, aggregate_type, aggregate_id, payload)"
                                 " VALUES ($1::text::xid8, 'tender.updated', 'tender', 'T', $2::jsonb)",
                                 str(txid), f'{{"n": {txid}}}')
        result = await outbox.drain("test.digits")
        assert got == [8, 9, 10, 11] and result.delivered == 4
    finally:
        outbox.unregister("test.digits")
