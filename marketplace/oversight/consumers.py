"""Oversight's outbox consumers: the award history read model and the tenders' stage history.

(The OCDS publisher is its own consumer, in ocds/publisher.py.) Writes join the drain's transaction, so
each batch is applied exactly once with the cursor; both handlers are idempotent all the same.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from marketplace.core import db, outbox
from marketplace.oversight.awards import service as award_history

AWARD_TOPICS = ["award.created", "award.consented", "award.cancelled", "award.appealed", "appeal.decided"]


@outbox.consumer("oversight.award_history", topics=AWARD_TOPICS)
async def keep_award_history(events: list[outbox.OutboxEvent]) -> None:
    ids = sorted({UUID(ev.aggregate_id) for ev in events if ev.aggregate_type == "award"})
    await award_history.refresh(ids)


@outbox.consumer("oversight.stages", topics=["tender.state_changed"])
async def keep_stages(events: list[outbox.OutboxEvent]) -> None:
    """Tender-level moves (lot_id null) close the open stage and open the next one."""
    for ev in events:
        p = ev.payload
        if p.get("lot_id"):
            continue
        tender_id = UUID(p["tender_id"])
        at = datetime.fromisoformat(p["at"])
        t = await db.fetchrow("SELECT agency_id, method, created_at FROM tender WHERE id = $1", tender_id)
        if t is None:
            continue
        closed = await db.execute(
            "UPDATE tender_stage SET left_at = $2 WHERE tender_id = $1 AND left_at IS NULL AND stage = $3",
            tender_id, at, p["from"])
        if closed.endswith(" 0") and p["from"] == "draft":
            # The first move: the draft stage began when the tender was created.
            await db.execute(
                "INSERT INTO tender_stage (tender_id, stage, entered_at, left_at, agency_id, method)"
                " VALUES ($1, 'draft', $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                tender_id, min(t["created_at"], at), at, t["agency_id"], t["method"])
        await db.execute(
            "UPDATE tender_stage SET left_at = $2 WHERE tender_id = $1 AND left_at IS NULL", tender_id, at)
        await db.execute(
            "INSERT INTO tender_stage (tender_id, stage, entered_at, agency_id, method)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            tender_id, p["to"], at, t["agency_id"], t["method"])
