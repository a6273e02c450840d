"""Invitations of a price comparison (issue 17, point 8).

A `price_comparison` ("comparación de precios") is a selective method: the agency compares quotes from
suppliers it invites. Its officer invites suppliers while the tender is a draft or in its enquiry period;
once a tender has invitees, only they may bid (403 problem, rule `invitation`, checked in
tenders/bids/service.py). A price comparison without invitees stays open to every supplier in good standing,
as before: an agency that publishes it openly gets more quotes, never fewer. The list is closed when bids
may start (the enquiry period's end), so it cannot change under a bid: the check needs no lock. Other
methods take no invitations (409, rule `method`).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from marketplace.core import audit, clock, db
from marketplace.core.actor import Actor
from marketplace.core.errors import Conflict, InvalidInput, NotFound
from marketplace.core.i18n import N_
from tenders import service
from tenders.domain import Method, State


class InvitationCreate(msgspec.Struct, forbid_unknown_fields=True):
    supplier_id: UUID


class InvitationRead(msgspec.Struct):
    supplier_id: UUID
    supplier_name: str
    invited_at: datetime


async def invite(*, actor: Actor, tender_id: UUID, supplier_id: UUID) -> InvitationRead:
    """Invite a registered supplier to a price comparison (its officer; again is a no-op)."""
    t = await service.lock_tender(tender_id=tender_id)
    service.require_tender_officer(actor, t)
    if t["method"] != Method.PRICE_COMPARISON:
        raise Conflict(N_("Only a price comparison takes invitations"), field="method", rule="method")
    now = clock.now()
    if t["state"] not in (State.DRAFT, State.PUBLISHED) or (t["enquiry_end"] is not None and now >= t["enquiry_end"]):
        raise Conflict(N_("Suppliers are invited before bids may be submitted"), field="enquiry_end",
                       rule="invitation_period_over")
    supplier = await db.fetchrow("SELECT legal_name FROM supplier WHERE organisation_id = $1", supplier_id)
    if supplier is None:
        raise InvalidInput(N_("No such supplier"), field="supplier_id", rule="exists")
    row = await db.fetchrow(
        "INSERT INTO tender_invitation (tender_id, supplier_id, invited_by, invited_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (tender_id, supplier_id) DO NOTHING RETURNING invited_at",
        tender_id, supplier_id, actor.user_id, now)
    if row is None:
        row = await db.fetchrow("SELECT invited_at FROM tender_invitation WHERE tender_id = $1 AND supplier_id = $2",
                                tender_id, supplier_id)
        assert row is not None
    else:
        await audit.record(actor=actor, action="tender.supplier_invited", entity_type="tender", entity_id=tender_id,
                           data={"supplier_id": str(supplier_id)})
    return InvitationRead(supplier_id=supplier_id, supplier_name=supplier["legal_name"],
                          invited_at=row["invited_at"])


async def list_invitations(*, actor: Actor, tender_id: UUID) -> list[InvitationRead]:
    """The invitees: all of them for the owning agency, to a supplier only its own invitation."""
    t = await service.load_tender(tender_id=tender_id)
    if not service.can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    owner = actor.member_of(t["agency_id"])
    rows = await db.fetch(
        "SELECT i.supplier_id, s.legal_name, i.invited_at FROM tender_invitation i"
        " JOIN supplier s ON s.organisation_id = i.supplier_id"
        " WHERE i.tender_id = $1 AND ($2 OR i.supplier_id = $3) ORDER BY i.invited_at, s.legal_name",
        tender_id, owner, actor.org_id)
    return [InvitationRead(supplier_id=r["supplier_id"], supplier_name=r["legal_name"], invited_at=r["invited_at"])
            for r in rows]
