"""Bidder notices: what concerns a supplier's bids, told to that supplier (suppliers.alerts stores and mails).

The outbox consumer 'tenders.bidder_notices' reads the tender events below, decides who is concerned and
what each one is told, and hands that to `suppliers.alerts.service.notify_suppliers`, in the drain's
transaction. One notice per supplier and event (the event's id is the key), so a redelivered event tells
nobody twice.

Who hears what (`kind`: what its `data` holds):

- tender.amended -> suppliers with a live bid (tender_amended: number, reason, material, and `reconfirm_by`,
  the deadline, when the amendment is material);
- tender.enquiry_answered -> the asker, suppliers with a live bid, suppliers a tender alert told
  (enquiry_answered: number, question, answer);
- tender.opened -> every supplier with a live bid (tender_opened: bid_id, `outcome` opened or excluded, and
  the `reason` of an exclusion: not_reconfirmed, corrupt);
- award.created -> the lot's bidders (award_made: lot_number, supplier_name, value, standstill_ends_at, `won`);
- award.appealed -> the lot's bidders (appeal_filed: lot_number, appeal_id);
- appeal.decided -> the lot's bidders (appeal_decided: lot_number, decision, reason).

Who is concerned is judged when the event is handled (the worker drains as each change commits).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import db, outbox
from suppliers.alerts import service as alerts

log = logging.getLogger(__name__)

CONSUMER = "tenders.bidder_notices"
TOPICS = ("tender.amended", "tender.enquiry_answered", "tender.opened", "award.created", "award.appealed",
          "appeal.decided")

Notices = dict[UUID, dict[str, Any]]


async def _live_bidders(tender_id: UUID) -> list[dict[str, Any]]:
    return await db.fetch("SELECT id, supplier_id FROM bid WHERE tender_id = $1 AND status = 'live'"
                          " ORDER BY received_at, id", tender_id)


async def _lot(lot_id: UUID) -> tuple[int, list[UUID]]:
    """A lot's number and the suppliers of its live bids."""
    row = await db.fetchrow("SELECT number FROM tender_lot WHERE id = $1", lot_id)
    bidders = await db.fetch("SELECT DISTINCT supplier_id FROM bid_lot WHERE lot_id = $1 AND live", lot_id)
    return (row["number"] if row else 0), [r["supplier_id"] for r in bidders]


async def _amended(p: dict[str, Any]) -> Notices:
    data = {"number": p.get("number"), "reason": p.get("reason", ""), "material": bool(p.get("material")),
            "reconfirm_by": p.get("submission_deadline") if p.get("material") else None}
    return {b["supplier_id"]: data for b in await _live_bidders(UUID(p["tender_id"]))}


async def _answered(p: dict[str, Any]) -> Notices:
    tender_id = UUID(p["tender_id"])
    told = {b["supplier_id"] for b in await _live_bidders(tender_id)} | await alerts.alerted_suppliers(
        tender_id=tender_id)
    if p.get("asker_org_id"):
        told.add(UUID(p["asker_org_id"]))
    data = {"enquiry_id": p.get("enquiry_id"), "number": p.get("number"), "question": p.get("question", ""),
            "answer": p.get("answer", ""), "corrects": p.get("corrects")}
    return dict.fromkeys(told, data)


async def _opened(p: dict[str, Any]) -> Notices:
    tender_id = UUID(p["tender_id"])
    row = await db.fetchrow("SELECT record FROM tender_opening WHERE tender_id = $1", tender_id)
    record = row["record"] if row else {}
    if isinstance(record, str):
        record = msgspec.json.decode(record)
    excluded = {UUID(e["bid_id"]): e["reason"] for e in record.get("excluded", [])}
    out: Notices = {}
    for b in await _live_bidders(tender_id):
        reason = excluded.get(b["id"])
        out[b["supplier_id"]] = {"bid_id": str(b["id"]), "outcome": "excluded" if reason else "opened",
                                 "reason": reason, "opened_at": p.get("opened_at")}
    return out


async def _awarded(p: dict[str, Any]) -> Notices:
    number, bidders = await _lot(UUID(p["lot_id"]))
    winner = UUID(p["supplier_id"])
    name = await db.fetchrow("SELECT name FROM organisation WHERE id = $1", winner)
    base = {"award_id": p.get("award_id"), "lot_id": p.get("lot_id"), "lot_number": number,
            "supplier_id": str(winner), "supplier_name": name["name"] if name else "", "value": p.get("value"),
            "currency": p.get("currency"), "standstill_ends_at": p.get("standstill_ends_at")}
    return {s: {**base, "won": s == winner} for s in bidders}


async def _appealed(p: dict[str, Any]) -> Notices:
    number, bidders = await _lot(UUID(p["lot_id"]))
    data = {"award_id": p.get("award_id"), "appeal_id": p.get("appeal_id"), "lot_id": p.get("lot_id"),
            "lot_number": number, "filed_at": p.get("filed_at")}
    return dict.fromkeys(bidders, data)


async def _decided(p: dict[str, Any]) -> Notices:
    number, bidders = await _lot(UUID(p["lot_id"]))
    data = {"award_id": p.get("award_id"), "appeal_id": p.get("appeal_id"), "lot_id": p.get("lot_id"),
            "lot_number": number, "decision": p.get("decision"), "reason": p.get("reason", "")}
    return dict.fromkeys(bidders, data)


_BY_TOPIC: dict[str, tuple[str, Callable[[dict[str, Any]], Awaitable[Notices]]]] = {
    "tender.amended": ("tender_amended", _amended),
    "tender.enquiry_answered": ("enquiry_answered", _answered),
    "tender.opened": ("tender_opened", _opened),
    "award.created": ("award_made", _awarded),
    "award.appealed": ("appeal_filed", _appealed),
    "appeal.decided": ("appeal_decided", _decided),
}


async def notify(ev: outbox.OutboxEvent) -> int:
    """The notices of one event; returns how many are new."""
    kind, who = _BY_TOPIC[ev.topic]
    p = ev.payload
    if not p.get("tender_id"):
        log.warning("%s event %s has no tender_id; no notice", ev.topic, ev.id)
        return 0
    tender_id = UUID(p["tender_id"])
    title = p.get("title")
    if not title:
        row = await db.fetchrow("SELECT title FROM tender WHERE id = $1", tender_id)
        title = row["title"] if row else ""
    return await alerts.notify_suppliers(kind=kind, tender_id=tender_id, title=title,
                                         event_key=f"{ev.topic}:{ev.id}", notices=await who(p))


@outbox.consumer(CONSUMER, topics=list(TOPICS))
async def handle(events: list[outbox.OutboxEvent]) -> None:
    for ev in events:
        await notify(ev)
