"""One contracting process as the API and the portal show it, read from its compiled release (pure: no I/O).

Its releases are the timeline (date order, as published); lots, bids (where the publisher publishes them),
awards and contracts come from the compiled release; amounts in their currency's minor units
(awards/domain.py). The source link is the publisher's address (our own record for ours).
"""

from __future__ import annotations

from typing import Any

from marketplace.oversight import queries as q
from marketplace.oversight import schemas as s
from marketplace.oversight.awards.domain import minor_units
from marketplace.oversight.imports import domain as ocds

RELEASES_SHOWN = 500


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None or isinstance(value, (dict, list)) else str(value))


def _money(value: Any, default_currency: str = "") -> tuple[int | None, str]:
    v = _dict(value)
    currency = (_text(v.get("currency")) or default_currency).upper()
    return (minor_units(v.get("amount"), currency) if currency else None), currency


def _names(refs: Any) -> list[str]:
    return [_text(r.get("name")) or _text(r.get("id")) for r in _list(refs)]


def build(row: q.ProcessRow, releases: list[q.ProcessReleaseRow], *, own_record_url: str,
          tender_id: Any = None) -> s.ProcessRead:
    compiled = _dict(ocds.decode(row.data))
    summary = ocds.summarise(compiled)
    parties = {p.party_id: p for p in summary.parties}
    tender = _dict(compiled.get("tender"))
    currency = _text(_dict(tender.get("value")).get("currency")).upper()
    lots = []
    for lot in _list(tender.get("lots")):
        value, cur = _money(lot.get("value"), currency)
        lots.append(s.ProcessLotRead(id=_text(lot.get("id")), title=_text(lot.get("title")),
                                     status=_text(lot.get("status")), value=value, currency=cur))
    bids = []
    for bid in _list(_dict(compiled.get("bids")).get("details")):
        value, cur = _money(bid.get("value"), currency)
        bids.append(s.ProcessBidRead(id=_text(bid.get("id")), status=_text(bid.get("status")),
                                     date=_text(bid.get("date")), tenderers=_names(bid.get("tenderers")),
                                     value=value, currency=cur))
    awards = []
    for award in _list(compiled.get("awards")):
        value, cur = _money(award.get("value"), currency)
        rucs = [r for ref in _list(award.get("suppliers"))
                if (r := (p.ruc if (p := parties.get(_text(ref.get("id")))) else ocds.ruc_of(ref)))]
        awards.append(s.ProcessAwardRead(id=_text(award.get("id")), title=_text(award.get("title")),
                                         status=_text(award.get("status")), date=_text(award.get("date")),
                                         suppliers=_names(award.get("suppliers")), supplier_rucs=rucs,
                                         value=value, currency=cur))
    contracts = []
    for c in _list(compiled.get("contracts")):
        value, cur = _money(c.get("value"), currency)
        contracts.append(s.ProcessContractRead(id=_text(c.get("id")), award_id=_text(c.get("awardID")),
                                               title=_text(c.get("title")), status=_text(c.get("status")),
                                               date_signed=_text(c.get("dateSigned")), value=value, currency=cur))
    source = own_record_url if row.publisher_own else (row.publisher_uri or "")
    return s.ProcessRead(
        ocid=row.ocid, title=_text(tender.get("title")) or row.ocid, status=summary.tender_status,
        buyer_name=summary.buyer_name, buyer_ruc=summary.buyer_ruc,
        procurement_method=summary.procurement_method,
        procurement_method_details=_text(tender.get("procurementMethodDetails")),
        publisher=row.publisher_slug, publisher_name=row.publisher_name, source_url=source, tender_id=tender_id,
        releases=[s.ProcessReleaseRead(release_id=r.release_id, date=r.date, tags=r.tags) for r in releases],
        lots=lots, bids=bids, awards=awards, contracts=contracts, updated_at=row.updated_at)
