"""A supplier's own bids (`GET /api/v1/bids`): filtered, newest first, keyset pages.

Only the actor's organisation's bids, never another supplier's (the query is scoped by the actor's org, not
filtered afterwards). Prices are shown once the bids are opened (from the opening entries), never before:
until the opening the content is sealed for the platform as for everyone. Each bid carries the state it is
in (tenders/bids/queries.py derives it): an unconfirmed bid the opening left out is `excluded`, with the
opening record's reason.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from uuid import UUID

from marketplace.core.actor import Actor, require
from marketplace.core.errors import Forbidden, InvalidInput
from marketplace.core.i18n import N_
from marketplace.core.money import money
from tenders.bids import queries
from tenders.bids.schemas import BID_STATES, BidLotSummary, BidPage, BidSummary

BIDDER_ROLES = ("bidder", "supplier_admin")


def encode_cursor(received_at: datetime, bid_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{received_at.isoformat()}|{bid_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, ident = raw.partition("|")
        value = datetime.fromisoformat(at), UUID(ident)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidInput(N_("This cursor is not one we gave out"), field="query.cursor", rule="cursor") from None
    if value[0].tzinfo is None:
        raise InvalidInput(N_("This cursor is not one we gave out"), field="query.cursor", rule="cursor")
    return value


async def list_bids(*, actor: Actor, tender_id: UUID | None = None, state: str | None = None,
                    date_from: datetime | None = None, date_to: datetime | None = None, cursor: str | None = None,
                    limit: int = 50) -> BidPage:
    """The actor's supplier's own bids, newest first, `limit` a page; `cursor` continues a listing."""
    require(actor, "supplier", *BIDDER_ROLES)
    if actor.org_id is None:
        raise Forbidden(N_("Your role does not allow this action"))
    if state is not None and state not in BID_STATES:
        raise InvalidInput(N_("Unknown bid state {state}"), field="query.state", rule="choice",
                           params={"state": state})
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(N_("Give a time zone (RFC 3339), e.g. 2026-12-01T17:00:00-05:00"),
                               field=f"query.{name}", rule="timezone")
    if date_from and date_to and date_from > date_to:
        raise InvalidInput(N_("The end of the range comes before its start"), field="query.date_to", rule="range")
    rows = await queries.supplier_bids(supplier_id=actor.org_id, tender_id=tender_id, state=state,
                                       received_from=date_from, received_before=date_to,
                                       after=decode_cursor(cursor) if cursor else None, limit=limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    items = [BidSummary(
        id=r.id, tender_id=r.tender_id, ocid=r.ocid, tender_title=r.tender_title, tender_state=r.tender_state,
        status=r.status, state=r.state, version=r.version, needs_reconfirmation=r.needs_reconfirmation,
        received_at=r.received_at, excluded_reason=r.excluded_reason, confirmed_at=r.confirmed_at,
        withdrawn_at=r.withdrawn_at, opened_at=r.opened_at, award_ids=r.award_ids,
        lots=[BidLotSummary(lot_id=UUID(str(lot["lot_id"])), number=lot["number"], title=lot["title"],
                            price=None if lot["price"] is None else money(lot["price"], r.currency))
              for lot in r.lots]) for r in rows]
    return BidPage(items=items, next_cursor=encode_cursor(rows[-1].received_at, rows[-1].id) if more else None)
