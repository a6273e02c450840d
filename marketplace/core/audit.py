"""The audit trail: an event for every state change, written in the same transaction.

Tamper evidence without a global lock on hot paths
---------------------------------------------------
Writers only INSERT a row (with the id of their transaction, `txid`). They take no lock and read no
shared row, so hundreds of concurrent bids never queue behind each other for the audit trail.

The chain is built afterwards by `chain_pending()` (an arq job, and every `audit verify`): under an
advisory lock it takes the events whose transaction is older than every transaction still running
(`txid < pg_snapshot_xmin(pg_current_snapshot())`: those can no longer change and no new event can
appear among them), in (txid, id) order, gives each the next gap-free `seq`, and sets
`hash = sha256(prev_hash + canonical(event))`. A trigger freezes a chained event. Every so often the
head of the chain is signed with the platform's Ed25519 key (`audit_checkpoint`), and the checkpoints are
published, so a rewrite of history by someone with database access shows as a broken link or a
checkpoint that no longer matches.
"""

from __future__ import annotations

from typing import Any

import msgspec

from marketplace.core import clock, db
from marketplace.core.actor import Actor

_encoder = msgspec.json.Encoder(order="sorted")


async def record(
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: Any,
    data: dict[str, Any] | None = None,
) -> None:
    """Write an audit event in the current transaction. `data` must hold no sealed content."""
    await db.execute(
        "INSERT INTO audit_event (occurred_at, actor_user_id, actor_org_id, action, entity_type, entity_id, data)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        clock.now(), actor.user_id, actor.org_id, action, entity_type, str(entity_id),
        _encoder.encode(data or {}).decode(),
    )
