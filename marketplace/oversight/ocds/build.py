"""Build OCDS 1.1 releases (with the lots and bids extensions) from the current state of a tender.

A release is a full snapshot of what is public about the contracting process at the moment it is built:
the buyer and every party with its roles, the tender with its lots and items, the bids once opened
(never before: they are sealed), the awards and the contracts with their amendments, milestones and
payments. `tags` say which lifecycle event caused it. Amounts are PEN céntimos written as decimal amounts
(Decimal, encoded as JSON numbers); dates are RFC 3339 in UTC.

Only oversight reads other domains' tables directly (DESIGN.md); this module does, read-only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from marketplace.core import db

METHOD_DETAILS = {
    "public_tender": "Licitación pública",
    "public_contest": "Concurso público",
    "simplified_award": "Adjudicación simplificada",
    "reverse_auction": "Subasta inversa electrónica",
    "price_comparison": "Comparación de precios",
    "direct_contracting": "Contratación directa",
}

TENDER_STATUS = {"draft": "planning", "published": "active", "tendering": "active", "opening": "active",
                 "evaluation": "active", "awarded": "complete", "contracted": "complete",
                 "cancelled": "cancelled", "unsuccessful": "unsuccessful"}
AWARD_STATUS = {"pending": "pending", "standstill": "pending", "appealed": "pending", "consented": "active",
                "cancelled": "cancelled"}
CONTRACT_STATUS = {"pending": "pending", "signed": "active", "completed": "terminated", "terminated": "terminated"}
MILESTONE_STATUS = {"pending": "scheduled", "delivered": "scheduled", "accepted": "met", "paid": "met"}

# Tags of the lifecycle events this publisher turns into releases.
TOPIC_TAGS: dict[str, list[str]] = {
    "tender.published": ["planning", "tender"],
    "tender.amended": ["tenderAmendment"],
    "tender.cancelled": ["tenderCancellation"],  # tenderUpdate when only a lot was cancelled
    "tender.opened": ["tenderUpdate"],
    "lot.unsuccessful": ["tenderUpdate"],
    "award.created": ["award"],
    "award.appealed": ["awardUpdate"],
    "appeal.decided": ["awardUpdate"],
    "award.consented": ["awardUpdate"],
    "award.cancelled": ["awardCancellation"],
    "contract.created": ["contract"],
    "contract.signed": ["contractUpdate"],
    "contract.amended": ["contractAmendment"],
    "milestone.delivered": ["implementation"],
    "milestone.accepted": ["implementation"],
    "milestone.rejected": ["implementation"],
    "milestone.paid": ["implementation"],
    "milestone.payment_reversed": ["implementation"],
    "contract.completed": ["implementation"],
    "contract.terminated": ["contractTermination"],
}


def ts(value: datetime | date | None) -> str | None:
    """RFC 3339, UTC, seconds precision (a date is its start in Lima, UTC-5)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(5, 0), tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def money(cents: int, currency: str = "PEN") -> dict[str, Any]:
    return {"amount": Decimal(int(cents)).scaleb(-2), "currency": currency.strip()}


def party_id(org: dict[str, Any]) -> str:
    return f"PE-RUC-{org['ruc']}" if org.get("ruc") else f"MA-ORG-{org['id']}"


def _ref(org: dict[str, Any]) -> dict[str, Any]:
    return {"id": party_id(org), "name": org["name"]}


def _clean(value: Any) -> Any:
    """Drop None values and empty lists/objects (OCDS omits what is unknown)."""
    if isinstance(value, dict):
        out = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


class Parties:
    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, Any]] = {}

    def add(self, org: dict[str, Any], *roles: str) -> dict[str, Any]:
        pid = party_id(org)
        party = self._by_id.get(pid)
        if party is None:
            party = {"id": pid, "name": org["name"], "roles": []}
            if org.get("ruc"):
                party["identifier"] = {"scheme": "PE-RUC", "id": org["ruc"], "legalName": org["name"]}
            address: dict[str, Any] = {"countryName": "Perú"}
            if org.get("ubigeo"):
                address["postalCode"] = org["ubigeo"]
            party["address"] = address
            self._by_id[pid] = party
        for role in roles:
            if role not in party["roles"]:
                party["roles"].append(role)
        return _ref(org)

    def all(self) -> list[dict[str, Any]]:
        return list(self._by_id.values())


def bid_detail_id(bid_id: Any, lot_number: int) -> str:
    return f"{bid_id}-L{lot_number}"


async def build_release(*, tender_id: UUID, ocid: str, release_id: str, tags: list[str],
                        date_: datetime) -> dict[str, Any] | None:
    """The release for `tender_id` as its rows stand now, or None for a tender never published."""
    t = await db.fetchrow(
        "SELECT t.*, o.name AS agency_name, o.ruc AS agency_ruc, o.ubigeo AS agency_ubigeo"
        " FROM tender t JOIN organisation o ON o.id = t.agency_id WHERE t.id = $1", tender_id)
    if t is None or t["published_at"] is None:
        return None
    parties = Parties()
    agency = {"id": t["agency_id"], "name": t["agency_name"], "ruc": t["agency_ruc"], "ubigeo": t["agency_ubigeo"]}
    buyer = parties.add(agency, "buyer", "procuringEntity")
    currency = t["currency"].strip()
    lots = await db.fetch("SELECT * FROM tender_lot WHERE tender_id = $1 ORDER BY number", tender_id)
    lot_number = {lot["id"]: lot["number"] for lot in lots}
    scoring = await db.fetchrow("SELECT price_weight FROM tender_scoring WHERE tender_id = $1", tender_id)
    amendments = await db.fetch(
        "SELECT number, reason, changes::text AS changes, amended_at FROM tender_amendment"
        " WHERE tender_id = $1 ORDER BY number", tender_id)
    enquiries = await db.fetchrow("SELECT count(*) AS n FROM tender_enquiry WHERE tender_id = $1", tender_id)
    total = sum(lot["estimated_value"] for lot in lots if lot["state"] != "cancelled")

    tender: dict[str, Any] = {
        "id": str(t["id"]),
        "title": t["title"],
        "description": t["description"] or None,
        "status": TENDER_STATUS[t["state"]],
        "procuringEntity": buyer,
        "value": money(total, currency),
        "procurementMethod": t["procurement_method"],
        "procurementMethodDetails": METHOD_DETAILS.get(t["method"], t["method"]),
        "mainProcurementCategory": t["category"],
        "awardCriteria": ("priceOnly" if scoring is None or scoring["price_weight"] == 1 else "ratedCriteria"),
        "submissionMethod": ["electronicSubmission"],
        "tenderPeriod": {"startDate": ts(t["published_at"]), "endDate": ts(t["submission_deadline"])},
        "enquiryPeriod": {"startDate": ts(t["published_at"]), "endDate": ts(t["enquiry_end"])},
        "hasEnquiries": bool(enquiries and enquiries["n"]),
        "items": [{
            "id": f"{lot['id']}-1",
            "description": lot["title"],
            "classification": {"scheme": lot["classification_scheme"], "id": lot["classification_code"]},
            "quantity": lot["quantity"],
            "unit": {"name": lot["unit"]},
            "relatedLot": str(lot["id"]),
        } for lot in lots],
        "lots": [{
            "id": str(lot["id"]),
            "title": lot["title"],
            "description": lot["description"] or None,
            "status": TENDER_STATUS[lot["state"]],
            "value": money(lot["estimated_value"], currency),
        } for lot in lots],
        "amendments": [{
            "id": f"{t['id']}-A{a['number']}",
            "date": ts(a["amended_at"]),
            "rationale": a["reason"],
            "description": a["changes"],
        } for a in amendments],
    }
    if t["opened_at"] is not None:
        tender["awardPeriod"] = {"startDate": ts(t["opened_at"])}

    release: dict[str, Any] = {
        "ocid": ocid,
        "id": release_id,
        "date": ts(date_),
        "tag": tags,
        "initiationType": "tender",
        "language": "es",
        "buyer": buyer,
    }
    if "planning" in tags:
        release["planning"] = {"budget": {"description": "Valor estimado de la convocatoria",
                                          "amount": money(total, currency)}}

    # Bids: public only once opened (the opening record). Status from the committee's qualification.
    if t["opened_at"] is not None:
        entries = await db.fetch(
            "SELECT e.bid_id, e.lot_id, e.price, e.received_at, o.id, o.name, o.ruc, o.ubigeo,"
            "       q.qualified"
            " FROM opening_entry e JOIN organisation o ON o.id = e.supplier_id"
            " LEFT JOIN bid_qualification q ON q.lot_id = e.lot_id AND q.bid_id = e.bid_id"
            " WHERE e.tender_id = $1 ORDER BY e.received_at, e.bid_id, e.lot_id", tender_id)
        tenderers: dict[str, dict[str, Any]] = {}
        details = []
        for e in entries:
            org = {"id": e["id"], "name": e["name"], "ruc": e["ruc"], "ubigeo": e["ubigeo"]}
            ref = parties.add(org, "tenderer")
            tenderers[ref["id"]] = ref
            status = "pending" if e["qualified"] is None else ("valid" if e["qualified"] else "disqualified")
            details.append({
                "id": bid_detail_id(e["bid_id"], lot_number[e["lot_id"]]),
                "date": ts(e["received_at"]),
                "status": status,
                "tenderers": [ref],
                "value": money(e["price"], currency),
                "relatedLots": [str(e["lot_id"])],
            })
        tender["tenderers"] = list(tenderers.values())
        tender["numberOfTenderers"] = len(tenderers)
        stats = [{"id": "bids", "measure": "bids", "value": len(details)}]
        disq = sum(1 for d in details if d["status"] == "disqualified")
        stats.append({"id": "disqualifiedBids", "measure": "disqualifiedBids", "value": disq})
        release["bids"] = {"statistics": stats, "details": details}

    awards = await db.fetch(
        "SELECT a.*, o.name, o.ruc, o.ubigeo FROM award a JOIN organisation o ON o.id = a.supplier_id"
        " WHERE a.tender_id = $1 ORDER BY a.created_at, a.id", tender_id)
    release["awards"] = []
    for a in awards:
        org = {"id": a["supplier_id"], "name": a["name"], "ruc": a["ruc"], "ubigeo": a["ubigeo"]}
        ref = parties.add(org, "supplier", "tenderer") if a["state"] != "cancelled" else parties.add(org, "tenderer")
        release["awards"].append({
            "id": str(a["id"]),
            "title": next((lot["title"] for lot in lots if lot["id"] == a["lot_id"]), None),
            "status": AWARD_STATUS[a["state"]],
            "date": ts(a["notified_at"]),
            "value": money(a["value"], a["currency"]),
            "suppliers": [ref],
            "relatedLots": [str(a["lot_id"])],
            "relatedBids": [bid_detail_id(a["bid_id"], lot_number[a["lot_id"]])],
        })

    contracts = await db.fetch(
        "SELECT * FROM contract WHERE tender_id = $1 AND source_type = 'award' ORDER BY created_at, id", tender_id)
    release["contracts"] = []
    for c in contracts:
        ams = await db.fetch("SELECT * FROM contract_amendment WHERE contract_id = $1 ORDER BY seq", c["id"])
        mss = await db.fetch("SELECT * FROM contract_milestone WHERE contract_id = $1 ORDER BY seq", c["id"])
        sup = await db.fetchrow("SELECT id, name, ruc, ubigeo FROM organisation WHERE id = $1", c["supplier_org_id"])
        payee = _ref(dict(sup)) if sup else None
        release["contracts"].append({
            "id": str(c["id"]),
            "awardID": str(c["source_id"]),
            "title": c["title"],
            "status": CONTRACT_STATUS.get(c["state"], "pending"),
            "period": {"startDate": ts(c["period_start"]), "endDate": ts(c["period_end"])},
            "value": money(c["value_cents"], c["currency"]),
            "dateSigned": ts(c["signed_at"]),
            "milestones": [{
                "id": str(m["id"]), "title": m["deliverable"], "type": "delivery", "dueDate": ts(m["due_date"]),
                "status": MILESTONE_STATUS.get(m["state"], "scheduled"),
                "dateMet": ts(m["accepted_at"]),
            } for m in mss],
            "amendments": [{
                "id": f"{c['id']}-A{a['seq']}",
                "date": ts(a["created_at"]),
                "rationale": a["reason"],
                "description": (f"Valor: {Decimal(a['previous_value_cents']).scaleb(-2)} -> "
                                f"{Decimal(a['new_value_cents']).scaleb(-2)} {c['currency'].strip()}"
                                f" ({a['change_pct']}%; acumulado {a['cumulative_change_pct']}%)"),
            } for a in ams],
            "implementation": {"transactions": [{
                "id": str(m["id"]),
                "source": None,
                "date": ts(m["paid_at"]),
                "value": money(m["amount_cents"], c["currency"]),
                "payer": buyer,
                "payee": payee,
            } for m in mss if m["state"] == "paid"]},
        })
    release["parties"] = parties.all()
    release["tender"] = tender
    order = ["ocid", "id", "date", "tag", "initiationType", "language", "parties", "buyer", "planning", "tender",
             "bids", "awards", "contracts"]
    cleaned: dict[str, Any] = _clean({k: release[k] for k in order if k in release})
    return cleaned
