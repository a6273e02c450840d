"""The evaluation record (acta) the whole committee confirms before the award (issue 17, finding 6).

A member drafts the acta of the lots in evaluation (`draft`; drafting is that member's confirmation): for each
lot the committee's result (the score sheet the award would write now), every member's own points and where
they differ from the committee's, and the qualifications. Its content is hashed. Each other member confirms
that very acta (`confirm`), with a dissenting opinion if they wish. A change after the drafting (points,
qualifications, a supplier's standing) makes the acta stale: it must be drafted again and confirmed anew.

The award (`require_confirmed`, called by tenders.awards.service.award) proceeds only with a current acta
confirmed by every member. Not needed when the committee has a single member (nobody to agree with: designate
a committee of several), nor for the automatic award of a live auction (price only, by the platform).
The acta is public once a lot was awarded or declared desierto; the owning agency sees it before.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import audit, clock, db
from marketplace.core.actor import Actor, require
from marketplace.core.errors import Conflict, Forbidden, NotFound
from marketplace.core.i18n import N_
from marketplace.settings import Settings
from tenders import service as tenders
from tenders.domain import State
from tenders.evaluation import committee
from tenders.evaluation import policy as policies
from tenders.evaluation import service as evaluation
from tenders.evaluation.schemas import ActaConfirmationRead, ActaRead, CommitteeMemberRead

_canonical = msgspec.json.Encoder(order="sorted")


async def _content(t: dict[str, Any], settings: Settings, members: list[CommitteeMemberRead]) -> dict[str, Any]:
    """What the acta records, computed from the data now (raises TechnicalIncomplete while the committee has
    not decided every point)."""
    lots = [lot for lot in await tenders.load_lots(tender_id=t["id"]) if lot["state"] == State.EVALUATION.value]
    if not lots:
        raise Conflict(N_("No lot of this tender is in evaluation (the tender is {state})"), field="state",
                       rule="state", params={"state": t["state"]})
    rules = await evaluation.load_rules(tender_id=t["id"])
    seed = await evaluation.opening_seed(tender_id=t["id"])
    policy = policies.of(settings)
    out_lots = []
    for lot in lots:
        result = await evaluation.evaluate(tender=t, lot=lot, policy=policy, rules=rules, seed=seed)
        out_lots.append({"lot_id": str(lot["id"]), "number": lot["number"], "outcome": result.outcome,
                         "sheet": result.sheet})
    lot_ids = [lot["id"] for lot in lots]
    own = await db.fetch(
        "SELECT m.member_id, m.lot_id, m.bid_id, m.criterion, m.points, s.points AS committee_points"
        " FROM member_score m LEFT JOIN technical_score s ON s.lot_id = m.lot_id AND s.bid_id = m.bid_id"
        " AND s.criterion = m.criterion WHERE m.lot_id = ANY($1::uuid[]) AND m.member_id = ANY($2::uuid[])"
        " ORDER BY m.lot_id, m.bid_id, m.criterion, m.member_id", lot_ids, [m.user_id for m in members])
    qualifications = await db.fetch(
        "SELECT lot_id, bid_id, qualified, reason FROM bid_qualification WHERE lot_id = ANY($1::uuid[])"
        " ORDER BY lot_id, bid_id", lot_ids)
    points = [{"member_id": str(r["member_id"]), "lot_id": str(r["lot_id"]), "bid_id": str(r["bid_id"]),
               "criterion": r["criterion"], "points": f"{r['points']:.2f}",
               "committee_points": None if r["committee_points"] is None else f"{r['committee_points']:.2f}"}
              for r in own]
    return {
        "tender_id": str(t["id"]), "ocid": t["ocid"],
        "rule": "the committee's points per bid and criterion are those a majority of its members gave",
        "members": [{"user_id": str(m.user_id), "name": m.name} for m in members],
        "lots": out_lots, "member_points": points,
        "differences": [p for p in points if p["points"] != p["committee_points"]],
        "qualifications": [{"lot_id": str(q["lot_id"]), "bid_id": str(q["bid_id"]), "qualified": q["qualified"],
                            "reason": q["reason"]} for q in qualifications],
    }


def _hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical.encode(content)).hexdigest()


async def _latest(tender_id: UUID) -> dict[str, Any] | None:
    return await db.fetchrow("SELECT id, tender_id, number, content, sha256, drafted_at FROM evaluation_acta"
                             " WHERE tender_id = $1 ORDER BY number DESC LIMIT 1", tender_id)


async def _member_actor(actor: Actor, tender_id: UUID) -> tuple[dict[str, Any], list[CommitteeMemberRead]]:
    t = await tenders.lock_tender(tender_id=tender_id)
    if not tenders.can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    require(actor, "agency", *evaluation.COMMITTEE_ROLES)
    if not actor.member_of(t["agency_id"]):
        raise Forbidden(N_("This tender belongs to another agency"))
    members, _ = await committee.members(tender=t)
    committee.require_member(actor, members)
    return t, members


async def draft(*, actor: Actor, settings: Settings, tender_id: UUID) -> ActaRead:
    """A member drafts the acta of the lots in evaluation, confirming it by drafting it."""
    t, members = await _member_actor(actor, tender_id)
    content = await _content(t, settings, members)
    digest = _hash(content)
    now = clock.now()
    row = await db.fetchrow(
        "INSERT INTO evaluation_acta (tender_id, number, content, sha256, drafted_by, drafted_at)"
        " SELECT $1, coalesce(max(number), 0) + 1, $2::jsonb, $3, $4, $5 FROM evaluation_acta WHERE tender_id = $1"
        " RETURNING id, number", tender_id, _canonical.encode(content).decode(), digest, actor.user_id, now)
    assert row is not None
    await db.execute("INSERT INTO evaluation_acta_confirmation (acta_id, member_id, confirmed_at) VALUES ($1, $2, $3)",
                     row["id"], actor.user_id, now)
    await audit.record(actor=actor, action="evaluation.acta_drafted", entity_type="tender", entity_id=tender_id,
                       data={"acta_id": str(row["id"]), "number": row["number"], "sha256": digest})
    return await _read(t, members, await _latest(tender_id), current=True)


async def confirm(*, actor: Actor, settings: Settings, tender_id: UUID, acta_id: UUID, dissent: str) -> ActaRead:
    """A member confirms the latest acta, as it stands (a stale or superseded one is refused)."""
    t, members = await _member_actor(actor, tender_id)
    acta = await _latest(tender_id)
    if acta is None or acta["id"] != acta_id:
        raise Conflict(N_("This is not the committee's latest acta"), field="acta_id", rule="acta_superseded")
    if _hash(await _content(t, settings, members)) != acta["sha256"].strip():
        raise Conflict(N_("The evaluation changed after this acta was drafted: draft it again"), field="acta_id",
                       rule="acta_stale")
    now = clock.now()
    await db.execute(
        "INSERT INTO evaluation_acta_confirmation (acta_id, member_id, dissent, confirmed_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (acta_id, member_id) DO UPDATE SET dissent = EXCLUDED.dissent,"
        " confirmed_at = EXCLUDED.confirmed_at", acta_id, actor.user_id, dissent.strip(), now)
    await audit.record(actor=actor, action="evaluation.acta_confirmed", entity_type="tender", entity_id=tender_id,
                       data={"acta_id": str(acta_id), "dissent": bool(dissent.strip())})
    return await _read(t, members, acta, current=True)


async def _read(t: dict[str, Any], members: list[CommitteeMemberRead], acta: dict[str, Any] | None, *,
                current: bool) -> ActaRead:
    assert acta is not None
    rows = await db.fetch(
        "SELECT c.member_id, coalesce(nullif(u.full_name, ''), u.email) AS name, c.confirmed_at, c.dissent"
        " FROM evaluation_acta_confirmation c JOIN app_user u ON u.id = c.member_id WHERE c.acta_id = $1"
        " ORDER BY c.confirmed_at, c.member_id", acta["id"])
    confirmed = {r["member_id"] for r in rows}
    content = acta["content"]
    return ActaRead(
        id=acta["id"], tender_id=t["id"], number=acta["number"], sha256=acta["sha256"].strip(),
        drafted_at=acta["drafted_at"], content=msgspec.json.decode(content) if isinstance(content, str) else content,
        members=members, confirmations=[ActaConfirmationRead(**r) for r in rows],
        confirmed_by_all=all(m.user_id in confirmed for m in members), current=current)


async def get_acta(*, actor: Actor, settings: Settings, tender_id: UUID) -> ActaRead:
    """The latest acta: the owning agency sees it during the evaluation, everyone once a lot was awarded or
    declared desierto."""
    t = await tenders.load_tender(tender_id=tender_id)
    if not tenders.can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    written = await db.fetchrow("SELECT 1 FROM score_sheet WHERE tender_id = $1 LIMIT 1", tender_id)
    if written is None and not (actor.via == "system" or actor.member_of(t["agency_id"])):
        raise NotFound(N_("The acta is published with the award"))
    acta = await _latest(tender_id)
    if acta is None:
        raise NotFound(N_("The committee has not drafted an acta yet"))
    members, _ = await committee.members(tender=t)
    try:
        current = _hash(await _content(t, settings, members)) == acta["sha256"].strip()
    except Conflict:  # no lot left in evaluation (awarded) or the evaluation is incomplete again
        current = False
    return await _read(t, members, acta, current=current)


async def require_confirmed(*, actor: Actor, settings: Settings, t: dict[str, Any]) -> None:
    """Refuse the award (409, field 'acta') unless the committee's latest acta is current and confirmed by
    every member. Skipped for a committee of one and for the live auction's automatic award (price only)."""
    if actor.via == "system":
        return
    members, _ = await committee.members(tender=t)
    if len(members) < committee.MIN_MEMBERS:
        return
    acta = await _latest(t["id"])
    if acta is None:
        raise Conflict(N_("The committee must draft and confirm its acta before the award"), field="acta",
                       rule="acta_required")
    if _hash(await _content(t, settings, members)) != acta["sha256"].strip():
        raise Conflict(N_("The evaluation changed after this acta was drafted: draft it again"), field="acta",
                       rule="acta_stale")
    confirmed = {r["member_id"] for r in await db.fetch(
        "SELECT member_id FROM evaluation_acta_confirmation WHERE acta_id = $1", acta["id"])}
    missing = [m for m in members if m.user_id not in confirmed]
    if missing:
        raise Conflict(N_("Every member of the committee must confirm the acta ({missing} still to confirm)"),
                       field="acta", rule="acta_not_confirmed", params={"missing": len(missing)})
