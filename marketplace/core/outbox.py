"""The outbox: durable events written in the domain transaction, drained after commit.

`emit()` inserts a row in the current transaction and, after commit, asks the worker to drain. Consumers
(search, notifications, oversight...) register a handler; each has its own cursor and reads the log in
(txid, id) order below the watermark (the oldest running transaction), so a row that commits late is never
skipped. See `drain()`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from marketplace.core import db, queue

DRAIN_JOB = "outbox_drain"
_encoder = msgspec.json.Encoder(order="sorted")


async def emit(*, topic: str, aggregate_type: str, aggregate_id: Any, payload: dict[str, Any] | None = None) -> None:
    """Record an event for the consumers, in the current transaction."""
    await db.execute(
        "INSERT INTO outbox (topic, aggregate_type, aggregate_id, payload) VALUES ($1, $2, $3, $4::jsonb)",
        topic, aggregate_type, str(aggregate_id), _encoder.encode(payload or {}).decode(),
    )
    uow = db.current_uow()
    if not getattr(uow, "_outbox_kick", False):
        uow._outbox_kick = True  # type: ignore[attr-defined]
        queue.enqueue_after_commit(DRAIN_JOB)
