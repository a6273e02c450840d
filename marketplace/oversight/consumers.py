"""Oversight's outbox consumers: the award history read model, the tenders' stage history, and the agency's
notification of a payment stuck in 'requested' ('payment.stuck', raised by payments).

(The OCDS publisher is its own consumer, in ocds/publisher.py.) Writes join the drain's transaction, so
each batch is applied exactly once with the cursor; both handlers are idempotent all the same.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from marketplace.core import db, outbox
from marketplace.core.money import format_money
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


@outbox.consumer("oversight.payment_alarms", topics=["payment.stuck"])
async def notify_stuck_payments(events: list[outbox.OutboxEvent]) -> None:
    """The agency of a payment stuck in 'requested' hears of it once (the dedupe key is the payment's)."""
    for ev in events:
        p = ev.payload
        if not p.get("agency_org_id"):
            continue  # a supplier's fee or bond with no agency: oversight's alarm list shows it
        amount = format_money(int(p["amount_cents"]), p.get("currency") or "PEN")
        await db.execute(
            "INSERT INTO agency_notification (agency_id, kind, dedupe_key, subject, data, created_at)"
            " VALUES ($1, 'payment_stuck', $2, $3, $4::jsonb, $5) ON CONFLICT (dedupe_key) DO NOTHING",
            UUID(p["agency_org_id"]), f"payment_stuck:{p['payment_id']}",
            f"El pago de {amount} lleva {p['minutes_requested']} minutos sin llegar a Stripe"
            f" (límite: {p['limit_minutes']} minutos)", outbox.encode(p), ev.created_at)
