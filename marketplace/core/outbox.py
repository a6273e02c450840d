"""The outbox: durable events written in the domain transaction, drained after commit.

`emit()` inserts a row in the current transaction and, after commit, asks the worker to drain. Consumers
(search, notifications, oversight...) register a handler; each has its own cursor and reads the log in
(txid, id) order below the watermark (the oldest running transaction), so a row that commits late is never
skipped. See `drain()`.

Writing a consumer
------------------
    from marketplace.core import outbox

    @outbox.consumer("search.tenders", topics=["tender.*"])
    async def handle(events: list[outbox.OutboxEvent]) -> None:
        ...

Put it in a module your `<domain>/jobs.py` imports, so the worker registers it. Delivery is at least
once: a handler that fails (or a worker killed mid-batch) gets the same events again, so handlers must be
idempotent. After a failure the consumer backs off (1 s, 2 s, 4 s... up to 5 minutes; `status()` shows the
count and the last error) while the other consumers go on. A handler's own PostgreSQL writes (`db.execute`
etc.) run in the drain's transaction, the one that advances the cursor, so for those delivery is effectively
exactly once. Events come in (txid, id) order; for one aggregate whose row is locked (SELECT ... FOR UPDATE)
before its transaction's first write that is the order of its changes.

Read first, write last. The watermark is the oldest transaction still running in this database, and
a transaction counts from its first write (when PostgreSQL gives it an id) to its commit. A handler that
writes early in a long batch holds every consumer's delivery back for the rest of that batch: build
everything from reads, then write it in as few statements as possible at the end (oversight.ocds and the
search consumer do), and keep batches of slow handlers small.

Each consumer drains in a task of its own in the worker (`request_drain`), so its delivery waits for its own
drain, never for a slower consumer's.

Why nothing is lost
-------------------
* The row is written in the domain transaction: no commit, no event; commit, event.
* The after-commit enqueue of `outbox_drain` is only a kick. If Redis is down or the process dies right
  after commit, the sweeper cron (`outbox_sweep`, every few seconds) drains whatever lies beyond a cursor.
* A consumer reads only rows whose transaction is older than every one still running in this database
  (`txid < local_xmin()`, a function of the core migrations: PostgreSQL's own snapshot xmin, less the
  transactions it shows as belonging to other databases of the server). A transaction that took its id
  early but commits late is therefore read when it commits, never jumped over by a cursor that already
  moved past later ids.
* Each consumer drains under its own advisory lock (try-lock: a concurrent drain returns at once), and the
  cursor moves in the transaction that read the batch, so two drains never deliver the same batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from arq.constants import in_progress_key_prefix

from marketplace.core import clock, db, queue

log = logging.getLogger(__name__)

DRAIN_JOB = "outbox_drain"
KICK_JOB_ID = "outbox_drain:kick"
FOLLOW_UP_JOB_ID = "outbox_drain:follow-up"
DRAIN_LOCK = 7_300_003  # advisory lock class: (DRAIN_LOCK, hashtext(consumer)) per consumer
DEFAULT_BATCH = 500
MAX_BACKOFF = 300  # seconds between retries of a consumer whose batch keeps failing
_encoder = msgspec.json.Encoder(order="sorted")


class OutboxEvent(msgspec.Struct, frozen=True):
    id: int
    topic: str
    aggregate_type: str
    aggregate_id: str
    payload: dict[str, Any]
    created_at: datetime


Handler = Callable[[list[OutboxEvent]], Awaitable[None]]


@dataclass(frozen=True)
class Consumer:
    name: str
    handler: Handler
    topics: tuple[str, ...] | None
    batch_size: int

    def wants(self, topic: str) -> bool:
        if self.topics is None:
            return True
        return any(t == topic or t.endswith("*") and topic.startswith(t[:-1]) for t in self.topics)


_consumers: dict[str, Consumer] = {}


def consumer(name: str, *, topics: Iterable[str] | None = None,
             batch_size: int = DEFAULT_BATCH) -> Callable[[Handler], Handler]:
    """Register `async def handle(events: list[OutboxEvent]) -> None` as consumer `name`.

    `topics` filters what the handler sees (exact names, or a prefix ending in `*`); the cursor moves past
    the others all the same. A new consumer starts from the beginning of the log."""
    if not name or len(name) > 100:
        raise ValueError("a consumer needs a name of 1 to 100 characters")

    def register(fn: Handler) -> Handler:
        existing = _consumers.get(name)
        if existing is not None and existing.handler is not fn:
            raise ValueError(f"outbox consumer {name!r} is already registered")
        _consumers[name] = Consumer(name=name, handler=fn, topics=tuple(topics) if topics is not None else None,
                                    batch_size=batch_size)
        return fn

    return register


def consumers() -> dict[str, Consumer]:
    return dict(_consumers)


def unregister(name: str) -> None:
    """Forget a consumer (tests). Its cursor row stays."""
    _consumers.pop(name, None)


# The head of the INSERT `emit()` runs; a statement that writes its event together with its own rows (one
# round trip) folds in `INSERT ... SELECT` with this head and `encode(payload)`, then calls `kick_after_commit()`.
INSERT = "INSERT INTO outbox (topic, aggregate_type, aggregate_id, payload)"


def encode(payload: dict[str, Any] | None) -> str:
    """A payload as the jsonb text `emit()` stores."""
    return _encoder.encode(payload or {}).decode()


async def emit(*, topic: str, aggregate_type: str, aggregate_id: Any, payload: dict[str, Any] | None = None) -> None:
    """Record an event for the consumers, in the current transaction (NoTransaction outside one: the event
    must commit with the change it announces)."""
    db.require_transaction("outbox.emit()")
    await db.execute(INSERT + " VALUES ($1, $2, $3, $4::jsonb)", topic, aggregate_type, str(aggregate_id),
                     encode(payload))
    kick_after_commit()


def kick_after_commit() -> None:
    """Ask the worker to drain once the current transaction commits (at once when the caller's statement ran
    on its own, outside a unit of work: it has committed already)."""
    if not db.in_unit_of_work():
        kick_soon()
        return
    uow = db.current_uow()
    if not getattr(uow, "_outbox_kick", False):
        uow._outbox_kick = True  # type: ignore[attr-defined]
        db.after_commit(_kick)


_kicker: asyncio.Task[None] | None = None
_kick_again = False


def kick_soon() -> None:
    """`_kick()` in the background, coalesced: while one kick is on its way to Redis, any number of calls make
    one more after it, not one each. For hot paths, whose answer should not wait for Redis; what a lost kick
    leaves, the sweeper delivers."""
    global _kicker, _kick_again
    loop = asyncio.get_running_loop()
    if _kicker is not None and not _kicker.done() and _kicker.get_loop() is loop:
        _kick_again = True
        return
    _kicker = loop.create_task(_kick_loop())


async def _kick_loop() -> None:
    global _kick_again
    while True:
        _kick_again = False
        await _kick()
        if not _kick_again:
            return


async def kicks_sent(timeout: float = 2) -> None:
    """Wait (at most `timeout` seconds) until the background kicks asked for so far have reached Redis: the
    app's shutdown, before it closes the queue pool. What does not make it, the sweeper delivers."""
    task = _kicker
    if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
        await asyncio.wait({task}, timeout=timeout)


async def _kick() -> None:
    """After commit, ask the worker to drain. A fixed job id coalesces kicks: while one drain waits in the
    queue, more kicks add nothing (it will read their rows too). A kick refused because that drain is
    already *running* (it may have read past this commit already) asks for one coalesced follow-up drain.
    Whatever is lost here (Redis down, a crash) the sweeper delivers within a second or two."""
    pool = queue.get_pool()
    if pool is None:
        return
    try:
        kick = f"{KICK_JOB_ID}:{pool.default_queue_name}"
        if await pool.enqueue_job(DRAIN_JOB, _job_id=kick) is None and await pool.exists(
                in_progress_key_prefix + kick):
            await pool.enqueue_job(DRAIN_JOB, _job_id=f"{FOLLOW_UP_JOB_ID}:{pool.default_queue_name}")
    except Exception:
        log.warning("could not enqueue %s; the sweeper will deliver", DRAIN_JOB, exc_info=True)


# --- draining ---------------------------------------------------------------------------------------

# ORDER BY names the table's columns: a bare `txid` would be the text output column, and text order
# ('10' < '9') would make a cursor jump over rows whose ids have fewer digits.
_READ = (
    "SELECT o.id, o.txid::text AS txid, o.topic, o.aggregate_type, o.aggregate_id, o.payload::text AS payload,"
    " o.created_at FROM outbox o WHERE (o.txid, o.id) > ($1::text::xid8, $2::bigint)"
    " AND o.txid < (SELECT local_xmin())"
    " ORDER BY o.txid, o.id LIMIT $3"
)


class DrainResult(msgspec.Struct):
    delivered: int = 0  # events handed to the handler
    passed: int = 0  # events the cursor moved past (delivered + filtered out)
    busy: bool = False  # another drain held the consumer's lock
    failed: bool = False  # the handler raised; the batch will be delivered again
    held_back: bool = False  # committed rows wait behind an older, still running transaction
    deferred: bool = False  # the consumer is backing off after a failure (see `retry_at`)


async def _drain_batch(c: Consumer, result: DrainResult) -> int:
    """One batch in one transaction: lock, read past the cursor, handle, move the cursor. Returns rows read."""
    async with db.unit_of_work():
        # The consumer's lock and its cursor in one round trip. No row lock on the cursor: only the holder of
        # the advisory lock moves it.
        cur = await db.fetchrow(
            "SELECT l.ok, k.consumer IS NOT NULL AS known, coalesce(k.last_txid, '0'::xid8)::text AS last_txid,"
            "       coalesce(k.last_id, 0) AS last_id, k.retry_at"
            " FROM (SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok) AS l"
            " LEFT JOIN outbox_cursor k ON l.ok AND k.consumer = $2", DRAIN_LOCK, c.name)
        if not cur or not cur["ok"]:
            result.busy = True
            return 0
        if not cur["known"]:  # a new consumer: it starts from the beginning of the log
            await db.execute("INSERT INTO outbox_cursor (consumer) VALUES ($1) ON CONFLICT (consumer) DO NOTHING",
                             c.name)
        if cur["retry_at"] is not None and cur["retry_at"] > clock.now():
            result.deferred = True  # backing off after a failure; the sweeper tries again when due
            return 0
        rows = await db.fetch(_READ, cur["last_txid"], cur["last_id"], c.batch_size)
        if not rows:
            return 0
        events = [
            OutboxEvent(id=r["id"], topic=r["topic"], aggregate_type=r["aggregate_type"],
                        aggregate_id=r["aggregate_id"], payload=msgspec.json.decode(r["payload"]),
                        created_at=r["created_at"])
            for r in rows if c.wants(r["topic"])
        ]
        if events:
            await c.handler(events)  # its PostgreSQL writes join this transaction
        last = rows[-1]
        await db.execute(
            "UPDATE outbox_cursor SET last_txid = $2::text::xid8, last_id = $3, updated_at = now(),"
            " failures = 0, last_error = NULL, retry_at = NULL WHERE consumer = $1",
            c.name, last["txid"], last["id"])
        result.delivered += len(events)
        result.passed += len(rows)
        return len(rows)


async def _record_failure(c: Consumer, exc: Exception) -> None:
    """Count the failure and set when to try again: 1 s, 2 s, 4 s... up to MAX_BACKOFF. A batch that keeps
    failing (a poison event) stays at the head of this consumer's log, visible in `status()`, and the
    other consumers go on."""
    try:
        # An upsert: the cursor row may have been created in the very transaction that just rolled back.
        async with db.unit_of_work():
            await db.execute(
                "INSERT INTO outbox_cursor AS k (consumer, failures, last_error, retry_at)"
                " VALUES ($1, 1, $2, $3::timestamptz + interval '1 second')"
                " ON CONFLICT (consumer) DO UPDATE SET failures = k.failures + 1, last_error = EXCLUDED.last_error,"
                "   retry_at = $3::timestamptz + make_interval(secs => least(power(2, k.failures), $4::int))",
                c.name, f"{type(exc).__name__}: {exc}"[:2000], clock.now(), MAX_BACKOFF)
    except Exception:
        log.warning("could not record the failure of outbox consumer %s", c.name, exc_info=True)


async def _beyond_cursor(c: Consumer) -> tuple[bool, bool]:
    """(rows readable now beyond the cursor, committed rows beyond it held back by the watermark)."""
    # Only the first row beyond the cursor matters (every later one has a txid at least as high), and
    # ORDER BY ... LIMIT 1 makes it one probe of the (txid, id) index. (Two EXISTS over the same range
    # were planned as sequential scans of the whole log, the cursor being unknown at plan time: 80 ms each
    # on 200,000 rows, hundreds of times a second under load.)
    row = await db.fetchrow(
        "SELECT n.txid < (SELECT local_xmin()) AS ready, n.txid IS NOT NULL AS any"
        " FROM (SELECT coalesce((SELECT last_txid FROM outbox_cursor WHERE consumer = $1), '0'::xid8) AS last_txid,"
        "              coalesce((SELECT last_id FROM outbox_cursor WHERE consumer = $1), 0) AS last_id) k"
        " LEFT JOIN LATERAL (SELECT o.txid FROM outbox o WHERE (o.txid, o.id) > (k.last_txid, k.last_id)"
        "                    ORDER BY o.txid, o.id LIMIT 1) n ON true",
        c.name)
    assert row is not None
    return bool(row["ready"]), bool(row["any"]) and not row["ready"]


async def drain(name: str) -> DrainResult:
    """Deliver consumer `name`'s pending events, batch by batch, until none is left below the watermark.

    Safe to run twice and in parallel: a drain that finds the consumer's lock taken returns at once
    (`busy`). Each batch is preceded by a look without the lock or a transaction (one round trip), so a
    drain with nothing to do costs one statement, and an event whose kick arrived while this drain held the
    lock, and was turned away, is still delivered here. Runs its own transactions: call it outside a unit
    of work."""
    if db.in_unit_of_work():
        raise db.NoTransaction("drain() runs its own transactions; call it outside a unit of work")
    c = _consumers.get(name)
    if c is None:
        raise KeyError(f"no outbox consumer named {name!r}")
    result = DrainResult()
    empty = 0
    while True:
        ready, held = await _beyond_cursor(c)
        if not ready or empty >= 2:  # (two empty batches in a row: another drain took the rows)
            result.held_back = held
            return result
        try:
            n = await _drain_batch(c, result)
        except Exception as exc:
            log.exception("outbox consumer %s failed; its batch will be delivered again", name)
            result.failed = True
            await _record_failure(c, exc)
            return result
        if result.busy or result.deferred:
            return result
        empty = 0 if n else empty + 1


async def drain_all() -> dict[str, DrainResult]:
    """Drain every registered consumer, side by side (each has its own lock, cursor and transactions, so
    a slow or failing consumer does not hold the others back). Returns each consumer's result."""
    names = list(_consumers)
    results = await asyncio.gather(*(drain(name) for name in names))
    return dict(zip(names, results, strict=True))


async def pending_for(name: str, *, topic: str, aggregate_ids: Iterable[Any]) -> list[OutboxEvent]:
    """Committed events of `topic` about these aggregates that consumer `name` has not been handed yet, in
    its log order, whether or not the watermark holds them back: for a decision that must not be taken before
    an event already on its way to the consumer (the awards consent job and a bond paid just before the
    standstill ended). The consumer still gets them; its handler must be idempotent anyway.

    Reads only the log beyond the consumer's cursor (a range of the (txid, id) index)."""
    ids = [str(i) for i in aggregate_ids]
    if not ids:
        return []
    cur = await db.fetchrow("SELECT coalesce(last_txid, '0'::xid8)::text AS last_txid, coalesce(last_id, 0) AS last_id"
                            " FROM outbox_cursor WHERE consumer = $1", name)
    rows = await db.fetch(
        "SELECT o.id, o.topic, o.aggregate_type, o.aggregate_id, o.payload::text AS payload, o.created_at"
        " FROM outbox o WHERE (o.txid, o.id) > ($1::text::xid8, $2::bigint) AND o.topic = $3"
        " AND o.aggregate_id = ANY($4::text[]) ORDER BY o.txid, o.id",
        cur["last_txid"] if cur else "0", cur["last_id"] if cur else 0, topic, ids)
    return [OutboxEvent(id=r["id"], topic=r["topic"], aggregate_type=r["aggregate_type"],
                        aggregate_id=r["aggregate_id"], payload=msgspec.json.decode(r["payload"]),
                        created_at=r["created_at"]) for r in rows]


# --- drainers: one background task per consumer, in the worker ------------------------------------------

HELD_BACK_RETRY = 0.02  # seconds between looks while committed rows wait behind a running transaction
HELD_BACK_TRIES = 50  # then (a long transaction somewhere) the sweeper takes over, every second
_drainers: dict[str, asyncio.Task[None]] = {}
_drain_again: set[str] = set()


async def request_drain(names: Iterable[str] | None = None, *, wait: bool = True) -> None:
    """Have this process drain `names` (default: every consumer), each in a task of its own, and with
    `wait`, wait until the drains asked for have run. A consumer already draining here is asked to go round
    once more instead (its drain may have read before the commit that asked). So each consumer's delivery
    waits only for its own drain, not for the slowest consumer's, and any number of kicks make at most one
    drain running and one more per consumer. Returns early if cancelled; the drains go on."""
    loop = asyncio.get_running_loop()
    tasks = []
    for name in list(_consumers) if names is None else names:
        task = _drainers.get(name)
        if task is not None and not task.done() and task.get_loop() is loop:
            _drain_again.add(name)
        else:
            task = _drainers[name] = loop.create_task(_drainer(name), name=f"outbox drainer {name}")
        tasks.append(task)
    if tasks and wait:
        await asyncio.wait(tasks)  # not gather: a cancelled waiter leaves the drains running


async def _drainer(name: str) -> None:
    held = 0
    while True:
        _drain_again.discard(name)
        try:
            result = await drain(name)
        except Exception:  # drain() records a handler's failure itself; this is the database going away
            log.warning("outbox drain of %s failed; the sweeper retries", name, exc_info=True)
            return
        if result.held_back and held < HELD_BACK_TRIES:
            held += 1
            await asyncio.sleep(HELD_BACK_RETRY)
            continue
        if name not in _drain_again:
            return
        held = 0


async def stop_drainers(grace: float = 5) -> None:
    """Worker shutdown: let this process's drainers finish their rounds for up to `grace` seconds, then
    cancel them (a batch in flight rolls back and is delivered again)."""
    tasks = [t for t in _drainers.values() if not t.done() and t.get_loop() is asyncio.get_running_loop()]
    _drain_again.clear()  # no more rounds than the ones running
    if tasks and grace > 0:
        await asyncio.wait(tasks, timeout=grace)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    _drainers.clear()
    _drain_again.clear()


async def prune(*, older_than: timedelta, batch: int = 10_000) -> int:
    """Delete rows that every registered consumer has passed and that are older than `older_than`.

    Only when every registered consumer has a cursor (a consumer that has never drained still wants the
    whole log). A consumer added later starts from the oldest row kept, so it should build its state
    from the tables (as `marketplace reindex` does), not from the log. Returns how many rows went."""
    names = list(_consumers)
    if not names:
        return 0
    counted = await db.fetchrow("SELECT count(*) AS n FROM outbox_cursor WHERE consumer = ANY($1::text[])", names)
    if counted is None or counted["n"] < len(names):
        return 0
    floor = await db.fetchrow(  # the cursor furthest behind
        "SELECT last_txid::text AS txid, last_id AS id FROM outbox_cursor WHERE consumer = ANY($1::text[])"
        " ORDER BY last_txid, last_id LIMIT 1", names)
    assert floor is not None
    cutoff = clock.now() - older_than
    total = 0
    while True:
        async with db.unit_of_work():
            status = await db.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE (txid, id) <= ($1::text::xid8,"
                " $2::bigint) AND created_at < $3 ORDER BY txid, id LIMIT $4)",
                floor["txid"], floor["id"], cutoff, batch)
        deleted = int(status.split()[-1])
        total += deleted
        if deleted < batch:
            return total


class ConsumerStatus(msgspec.Struct):
    consumer: str
    pending: int  # events beyond the cursor
    last_id: int
    failures: int  # consecutive failed batches (0: healthy)
    last_error: str | None
    retry_at: datetime | None
    updated_at: datetime | None


async def status() -> list[ConsumerStatus]:
    """Each registered consumer's cursor, backlog and failures (for operators)."""
    out = []
    counts = await pending()
    for name in list(_consumers):
        row = await db.fetchrow(
            "SELECT last_id, failures, last_error, retry_at, updated_at FROM outbox_cursor WHERE consumer = $1",
            name) or {"last_id": 0, "failures": 0, "last_error": None, "retry_at": None, "updated_at": None}
        out.append(ConsumerStatus(consumer=name, pending=counts.get(name, 0), **row))
    return out


async def pending() -> dict[str, int]:
    """How many events lie beyond each consumer's cursor (for /metrics and tests)."""
    out: dict[str, int] = {}
    for name in list(_consumers):
        row = await db.fetchrow(
            "SELECT count(*) AS n FROM outbox o WHERE (o.txid, o.id) >"
            " (SELECT coalesce((SELECT last_txid FROM outbox_cursor WHERE consumer = $1), '0'::xid8),"
            "         coalesce((SELECT last_id FROM outbox_cursor WHERE consumer = $1), 0))",
            name)
        out[name] = int(row["n"]) if row else 0
    return out
