"""Group submission: the bids a worker holds at the same moment are stored by one statement.

In a deadline rush a worker process has tens of bids in flight at once, and each one alone costs PostgreSQL
a statement, a transaction, its row locks and a commit that waits for the WAL. Stored together, N bids share
those. Measured on the 2-core machine, 64 concurrent submitters straight to the database (no HTTP):
one bid per statement 2,300-2,650 bids/s and 145 us of client CPU per bid; 4 per statement 6,800-7,700;
8 per statement 10,600-12,000 and 30 us.

How a bid goes (tenders/bids/service.py prepares it exactly as when alone: sealed, receipt signed, clock read):
- `store(bid)` queues it. Up to FLUSHERS statements run at once; each takes what is queued (up to MAX_BATCH),
  after letting the bids that arrived with it join. A bid that finds itself alone goes to the single
  statement at once: at low load nothing changes.
- The group statement judges each bid by the single statement's own SQL (service._judged, _accepted),
  against that bid's own received_at, under the same share locks on its tender and supplier rows (every
  tender and supplier of the group; share locks do not wait for each other), and writes for each bid it
  accepts the same rows: bid, its lots, the audit event, the outbox event and the Idempotency-Key's answer.
- A bid it did not store (refused, or its Idempotency-Key already used) goes to the single statement, which
  judges it again and says why, or replays the stored answer. When the statement fails (a supplier bidding
  twice for one lot at once, a deadlock, anything PostgreSQL refuses), it stored nothing, and every bid of
  the group goes to the single statement. A lost connection is the caller's error, as it is alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from marketplace.core import audit, db, outbox

log = logging.getLogger(__name__)

MAX_BATCH = 32
FLUSHERS = 8


@dataclass(slots=True)
class Bid:
    """One prepared submission, the columns of the group statement."""

    bid_id: UUID
    tender_id: UUID
    supplier_id: UUID
    user_id: UUID | None
    sealed: bytes
    sha256: str
    key_id: str
    received_at: Any
    signature: str
    payload: str  # audit and outbox payload (jsonb text)
    scope: str | None
    key: str | None  # Idempotency-Key, None without one
    fingerprint: str | None
    response: str | None  # the receipt stored with the key
    lots: list[UUID]
    future: asyncio.Future[bool] | None = field(default=None, repr=False)


_COLUMNS = ("bid_id", "tender_id", "supplier_id", "user_id", "sealed", "sha256", "key_id", "received_at", "signature",
            "payload", "scope", "key", "fingerprint", "response")
_TYPES = ("uuid", "uuid", "uuid", "uuid", "bytea", "text", "text", "timestamptz", "text", "jsonb", "text", "text",
          "text", "jsonb")


@functools.cache
def _group_sql() -> str:
    """$1..$14 the columns of _COLUMNS as arrays (one element per bid), $15 the bids' ordinals and $16 the
    lots, flattened (lot $16[i] belongs to bid $15[i])."""
    # deferred: tenders.bids.service imports this module (the single and the group statement share the rule)
    from tenders.bids.service import BID_INSERT, TOPIC_BID_RECEIVED, _accepted, _judged

    arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(_TYPES, 1))
    return (
        f"WITH r AS (SELECT * FROM unnest({arrays}) WITH ORDINALITY AS r({', '.join(_COLUMNS)}, n)),"
        " rl AS (SELECT * FROM unnest($15::int8[], $16::uuid[]) AS rl(n, lot_id)),"
        " " + _judged("IN (SELECT r.tender_id FROM r)", "IN (SELECT r.supplier_id FROM r)") + ","
        " ok AS (SELECT r.*, s.mype, s.ubigeo FROM r JOIN t ON t.id = r.tender_id"
        "   JOIN s ON s.organisation_id = r.supplier_id"
        f"   WHERE {_accepted('r.received_at', 'ARRAY(SELECT rl.lot_id FROM rl WHERE rl.n = r.n)')}),"
        " ik AS (INSERT INTO idempotency_key (scope, key, request_hash, status, response)"
        "   SELECT ok.scope, ok.key, ok.fingerprint, 201, ok.response FROM ok WHERE ok.key IS NOT NULL"
        "   ON CONFLICT DO NOTHING RETURNING scope, key),"
        f" b AS ({BID_INSERT}"
        "   SELECT ok.bid_id, ok.tender_id, ok.supplier_id, ok.user_id, ok.sealed, ok.sha256, ok.key_id,"
        "   ok.received_at, ok.signature, ok.received_at, ok.mype, ok.ubigeo FROM ok"
        "   WHERE ok.key IS NULL OR (ok.scope, ok.key) IN (SELECT ik.scope, ik.key FROM ik) RETURNING id),"
        " bl AS (INSERT INTO bid_lot (bid_id, tender_id, lot_id, supplier_id)"
        "   SELECT r.bid_id, r.tender_id, rl.lot_id, r.supplier_id FROM b JOIN r ON r.bid_id = b.id"
        "   JOIN rl ON rl.n = r.n),"
        f" ev AS ({audit.INSERT} SELECT r.received_at, r.user_id, r.supplier_id, '{TOPIC_BID_RECEIVED}', 'bid',"
        "   r.bid_id::text, r.payload FROM b JOIN r ON r.bid_id = b.id),"
        f" ob AS ({outbox.INSERT} SELECT '{TOPIC_BID_RECEIVED}', 'bid', r.bid_id::text, r.payload"
        "   FROM b JOIN r ON r.bid_id = b.id)"
        " SELECT id FROM b"
    )


class Hold:
    """A test's hold on a batcher (`Batcher.held()`): its statements wait until the hold is released, so the
    bids a test sends together are grouped whatever the scheduler does; `queued(n)` returns once n bids wait."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.waiting = 0
        self._changed = asyncio.Event()

    def note(self, waiting: int) -> None:
        self.waiting = waiting
        self._changed.set()

    async def queued(self, n: int) -> None:
        """Return once `n` bids wait in the queue."""
        while self.waiting < n:
            self._changed.clear()
            await self._changed.wait()


class Batcher:
    """The queue of one process (one event loop). `groups` and `grouped` count the group statements that
    stored something and the bids they stored."""

    def __init__(self) -> None:
        self.queue: list[Bid] = []
        self.flushers = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.groups = 0
        self.grouped = 0
        self.hold: Hold | None = None  # only ever set by a test (held()): one attribute test per bid otherwise

    @contextlib.contextmanager
    def held(self) -> Iterator[Hold]:
        """Test seam: while held, bids queue up and no statement runs; leaving the block releases them, the
        first statement taking the queue in arrival order (up to MAX_BATCH)."""
        hold = self.hold = Hold()
        try:
            yield hold
        finally:
            self.hold = None
            hold.released.set()

    async def store(self, bid: Bid) -> bool:
        """True when a group statement stored `bid` (committed); False: submit it alone."""
        loop = asyncio.get_running_loop()
        bid.future = loop.create_future()
        self.queue.append(bid)
        if self.hold is not None:
            self.hold.note(len(self.queue))
        if self.flushers < FLUSHERS:
            self.flushers += 1
            task = loop.create_task(self._flush())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await bid.future

    async def _flush(self) -> None:
        group: list[Bid] = []
        try:
            await asyncio.sleep(0)  # the bids that arrived with this one join it
            if self.hold is not None:  # a test holds the queue until its bids are in
                await self.hold.released.wait()
            while self.queue:
                group = self.queue[:MAX_BATCH]
                del self.queue[:MAX_BATCH]
                await self._store_group(group)
        finally:
            self.flushers -= 1
            for bid in group:  # cancelled mid-statement (shutdown): its callers learn it, none waits for ever
                if bid.future is not None and not bid.future.done():
                    bid.future.cancel()

    async def _store_group(self, group: list[Bid]) -> None:
        alone: list[Bid] = []
        together: list[Bid] = []
        keys: set[tuple[str | None, str]] = set()
        for bid in group:
            if bid.future is None or bid.future.done():  # its request was cancelled
                continue
            if bid.key is not None:
                if (bid.scope, bid.key) in keys:  # one claim per key and statement: the retry waits its turn
                    alone.append(bid)
                    continue
                keys.add((bid.scope, bid.key))
            together.append(bid)
        if len(together) < 2:
            alone.extend(together)
            together = []
        stored: set[UUID] = set()
        if together:
            try:
                stored = await self._run(together)
            except asyncpg.PostgresError as exc:  # the statement stored nothing: each bid alone says why
                log.info("group of %d bids refused as a whole (%s: %s); submitting each alone",
                         len(together), type(exc).__name__, exc)
            except Exception as exc:  # connection lost, pool closed: the callers' error, as when alone
                for bid in together:
                    if bid.future is not None and not bid.future.done():
                        bid.future.set_exception(exc)
                together = []
            if stored:
                self.groups += 1
                self.grouped += len(stored)
        for bid in (*together, *alone):
            if bid.future is not None and not bid.future.done():
                bid.future.set_result(bid.bid_id in stored)

    @staticmethod
    async def _run(group: list[Bid]) -> set[UUID]:
        columns = [[getattr(bid, c) for bid in group] for c in _COLUMNS]
        ordinals: list[int] = []
        lots: list[UUID] = []
        for n, bid in enumerate(group, 1):
            ordinals.extend([n] * len(bid.lots))
            lots.extend(bid.lots)
        rows = await db.fetch_autocommit(_group_sql(), *columns, ordinals, lots)
        return {r["id"] for r in rows}


_batchers: dict[asyncio.AbstractEventLoop, Batcher] = {}


def batcher() -> Batcher:
    """This event loop's queue (a test's loop, a worker's, the app's)."""
    loop = asyncio.get_running_loop()
    b = _batchers.get(loop)
    if b is None:
        for old in [x for x in _batchers if x.is_closed()]:
            del _batchers[old]
        b = _batchers[loop] = Batcher()
    return b
