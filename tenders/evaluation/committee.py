"""The tender's evaluation committee acts as a committee (issue 17, finding 6): who sits on it, each member's
own score sheet, and the committee's points decided by majority over the members' sheets.

- The committee of a tender is the members its officer designated (`designate`, 2 to 9 users of the agency
  with the role 'committee', before the opening); a tender without a designation has as its committee every
  active user of the agency holding that role (so an agency with one committee member keeps working alone;
  designate a committee to make it a body of several).
- Each member enters their own points per bid and criterion (`member_score`). The committee's points for a
  bid and criterion are the points a majority of the members gave (more than half of all of them: with two
  members, both alike; with three, two of them); while there is no majority the criterion has no committee
  points, the evaluation is incomplete and the award waits. A member whose points differ from the committee's
  is recorded in the acta (tenders/evaluation/acta.py).

Functions: `members(tender=...)`, `require_member(actor, tender, members)`, `designate(...)`,
`record_points(...)`, `member_sheets(...)`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace.core import audit, clock, db
from marketplace.core.actor import Actor
from marketplace.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.settings import Settings
from tenders import service as tenders
from tenders.domain import State
from tenders.evaluation.schemas import CommitteeMemberRead, CommitteeRead, MemberScoreRead

MIN_MEMBERS, MAX_MEMBERS = 2, 9
DESIGNABLE = (State.DRAFT.value, State.PUBLISHED.value, State.TENDERING.value)


async def members(*, tender: dict[str, Any]) -> tuple[list[CommitteeMemberRead], bool]:
    """The committee (oldest designation first) and whether it was designated for this tender."""
    rows = await db.fetch(
        "SELECT c.user_id, coalesce(nullif(u.full_name, ''), u.email) AS name FROM tender_committee_member c"
        " JOIN app_user u ON u.id = c.user_id WHERE c.tender_id = $1 ORDER BY c.designated_at, c.user_id",
        tender["id"])
    if rows:
        return [CommitteeMemberRead(**r) for r in rows], True
    rows = await db.fetch(
        "SELECT id AS user_id, coalesce(nullif(full_name, ''), email) AS name FROM app_user"
        " WHERE organisation_id = $1 AND 'committee' = ANY(roles) AND active ORDER BY created_at, id",
        tender["agency_id"])
    return [CommitteeMemberRead(**r) for r in rows], False


def require_member(actor: Actor, committee: list[CommitteeMemberRead]) -> None:
    if actor.user_id is None or all(m.user_id != actor.user_id for m in committee):
        raise Forbidden(N_("Only a member of this tender's evaluation committee may do this"), field="committee",
                        rule="committee_member")


async def read_committee(*, actor: Actor, tender_id: UUID) -> CommitteeRead:
    """Who sits on the committee: public, as the designation of a selection committee is."""
    t = await tenders.load_tender(tender_id=tender_id)
    if not tenders.can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    committee, designated = await members(tender=t)
    return CommitteeRead(tender_id=tender_id, designated=designated, members=committee,
                         opening_quorum=t["opening_quorum"])


async def designate(*, actor: Actor, settings: Settings, tender_id: UUID, user_ids: list[UUID],
                    opening_quorum: int | None = None) -> CommitteeRead:
    """The officer designates the committee (replacing an earlier designation) before the opening, and how many
    of its members must confirm the opening (`opening_quorum`; None: the OPENING_QUORUM setting)."""
    t = await tenders.lock_tender(tender_id=tender_id)
    tenders.require_tender_officer(actor, t)
    if t["state"] not in DESIGNABLE:
        raise Conflict(N_("The committee is designated before the opening (the tender is {state})"), field="state",
                       rule="committee_fixed", params={"state": t["state"]})
    if len(set(user_ids)) != len(user_ids):
        raise InvalidInput(N_("Each member once"), field="members", rule="unique")
    if not MIN_MEMBERS <= len(user_ids) <= MAX_MEMBERS:
        raise InvalidInput(N_("A committee has between {low} and {high} members"), field="members", rule="range",
                           params={"low": MIN_MEMBERS, "high": MAX_MEMBERS})
    found = {r["id"]: r for r in await db.fetch(
        "SELECT id, organisation_id, roles, active FROM app_user WHERE id = ANY($1::uuid[])", user_ids)}
    for i, user_id in enumerate(user_ids):
        u = found.get(user_id)
        if u is None or u["organisation_id"] != t["agency_id"] or not u["active"] or "committee" not in u["roles"]:
            raise InvalidInput(N_("Not an active committee member of this agency"), field=f"members[{i}]",
                               rule="committee_member")
    # a tender may ask more confirmations than the setting, never fewer; and its members must be able to give them
    low = settings.opening_quorum
    if opening_quorum is not None and not low <= opening_quorum <= len(user_ids):
        raise InvalidInput(N_("The opening quorum must be between {low} and the number of members ({high})"),
                           field="opening_quorum", rule="range", params={"low": low, "high": len(user_ids)})
    if len(user_ids) < low:
        raise InvalidInput(N_("A committee has between {low} and {high} members"), field="members", rule="range",
                           params={"low": low, "high": MAX_MEMBERS})
    now = clock.now()
    await db.execute("UPDATE tender SET opening_quorum = $2 WHERE id = $1", tender_id, opening_quorum)
    await db.execute("DELETE FROM tender_committee_member WHERE tender_id = $1", tender_id)
    await db.execute(
        "INSERT INTO tender_committee_member (tender_id, user_id, designated_by, designated_at)"
        " SELECT $1, u, $3, $4::timestamptz + n * interval '1 microsecond'"  # keeps the order given
        " FROM unnest($2::uuid[]) WITH ORDINALITY AS x(u, n)",
        tender_id, user_ids, actor.user_id, now)
    await audit.record(actor=actor, action="tender.committee_designated", entity_type="tender", entity_id=tender_id,
                       data={"members": [str(u) for u in user_ids], "opening_quorum": opening_quorum})
    return await read_committee(actor=actor, tender_id=tender_id)


def majority(points: list[Decimal], size: int) -> Decimal | None:
    """The points more than half of a committee of `size` gave, or None."""
    for value in set(points):
        if 2 * points.count(value) > size:
            return value
    return None


async def record_points(*, tender_id: UUID, lot_id: UUID, bid_id: UUID, member_id: UUID,
                        scores: dict[str, Decimal], committee: list[CommitteeMemberRead],
                        now: datetime) -> dict[str, Decimal]:
    """Store a member's own points, then the committee's points of those criteria by majority (none while
    the members disagree). Returns the committee's points of the bid."""
    ids = [m.user_id for m in committee]
    for criterion, points in scores.items():
        await db.execute(
            "INSERT INTO member_score (tender_id, lot_id, bid_id, criterion, member_id, points, entered_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (lot_id, bid_id, criterion, member_id) DO UPDATE"
            " SET points = EXCLUDED.points, entered_at = EXCLUDED.entered_at",
            tender_id, lot_id, bid_id, criterion, member_id, points, now)
        given = [Decimal(r["points"]) for r in await db.fetch(
            "SELECT points FROM member_score WHERE lot_id = $1 AND bid_id = $2 AND criterion = $3"
            " AND member_id = ANY($4::uuid[])", lot_id, bid_id, criterion, ids)]
        agreed = majority(given, len(ids))
        if agreed is None:
            await db.execute("DELETE FROM technical_score WHERE lot_id = $1 AND bid_id = $2 AND criterion = $3",
                             lot_id, bid_id, criterion)
            continue
        await db.execute(
            "INSERT INTO technical_score (tender_id, lot_id, bid_id, criterion, points, entered_by, entered_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (lot_id, bid_id, criterion) DO UPDATE SET"
            " points = EXCLUDED.points, entered_by = EXCLUDED.entered_by, entered_at = EXCLUDED.entered_at",
            tender_id, lot_id, bid_id, criterion, agreed, member_id, now)
    rows = await db.fetch("SELECT criterion, points FROM technical_score WHERE lot_id = $1 AND bid_id = $2",
                          lot_id, bid_id)
    return {r["criterion"]: Decimal(r["points"]) for r in rows}


async def member_points(*, tender_id: UUID, lot_id: UUID, bid_id: UUID, member_id: UUID) -> dict[str, Decimal]:
    rows = await db.fetch("SELECT criterion, points FROM member_score WHERE lot_id = $1 AND bid_id = $2"
                          " AND member_id = $3 ORDER BY criterion", lot_id, bid_id, member_id)
    return {r["criterion"]: Decimal(r["points"]) for r in rows}


async def member_sheets(*, actor: Actor, tender_id: UUID) -> list[MemberScoreRead]:
    """Every member's own points: the owning agency sees them during the evaluation, everyone once a lot was
    awarded or declared desierto (its score sheet written)."""
    t = await tenders.load_tender(tender_id=tender_id)
    if not tenders.can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    written = await db.fetchrow("SELECT 1 FROM score_sheet WHERE tender_id = $1 LIMIT 1", tender_id)
    if written is None and not (actor.via == "system" or actor.member_of(t["agency_id"])):
        raise NotFound(N_("The committee's sheets are published with the award"))
    rows = await db.fetch(
        "SELECT m.member_id, coalesce(nullif(u.full_name, ''), u.email) AS name, m.lot_id, m.bid_id, m.criterion,"
        " m.points, m.entered_at FROM member_score m JOIN app_user u ON u.id = m.member_id WHERE m.tender_id = $1"
        " ORDER BY m.lot_id, m.bid_id, m.criterion, m.member_id", tender_id)
    return [MemberScoreRead(**r) for r in rows]
