"""The award history's rows of an imported process, read from its compiled release (pure: no I/O).

One row per award of the compiled release (an award of a consortium is one row, under its first supplier):
* its id: a UUID derived from the ocid and the award's id (stable: a process that changes replaces its rows);
* amounts kept in their own currency, as an integer in that currency's minor units (babel's precision:
  céntimos for PEN and USD, whole units for PYG); an award without a usable value has `value` None;
* the supplier's RUC from its party (a `PE-RUC` identifier or additional identifier, or an id
  `PE-RUC-<ruc>`), the buyer's from the compiled release's buyer (`PE-CONSUCODE-<n>` with its RUC among the
  additional identifiers): that is how imported awards meet registered suppliers and agencies;
* the state is OCDS's award status (`pending`, `active`, `cancelled`, `unsuccessful`); an award published
  without one counts as `active` when it names a supplier, else `pending`;
* the date is the award's, else the compiled release's; an award with neither is left out (pages are ordered
  by it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel.numbers import get_currency_precision, list_currencies

from marketplace.oversight.imports import domain as ocds

NAMESPACE = uuid.UUID("6f1d7a52-4c1e-4e43-9a3e-2c9b1f0d5e11")  # award ids of imported processes
MAX_MINOR = 10**15  # what the API's Money takes and a bigint holds with room
OCDS_STATES = ("pending", "active", "cancelled", "unsuccessful")
CATEGORIES = {"goods": "goods", "works": "works", "services": "services", "consultingServices": "services"}


@dataclass(frozen=True, slots=True)
class AwardRow:
    award_id: uuid.UUID
    ocid: str
    tender_title: str
    lot_title: str
    agency_ruc: str | None
    agency_name: str
    supplier_ruc: str | None
    supplier_name: str
    method: str
    category: str
    classification_scheme: str
    classification_code: str
    value: int | None
    currency: str
    state: str
    awarded_at: datetime


@lru_cache(maxsize=512)
def precision(currency: str) -> int | None:
    """Digits after the point of the currency's minor unit (2 for PEN, 0 for PYG); None for an unknown code."""
    if currency not in _known():
        return None
    return int(get_currency_precision(currency))


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(list_currencies())


def minor_units(amount: Any, currency: str) -> int | None:
    """`amount` (a JSON number: int, Decimal or float) in the currency's minor units, rounded half-even;
    None when it is not a number, the currency is unknown or it is beyond MAX_MINOR."""
    digits = precision(currency)
    if digits is None or isinstance(amount, bool) or not isinstance(amount, (int, float, Decimal)):
        return None
    try:
        value = int((Decimal(str(amount)) * (10 ** digits)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    except (InvalidOperation, ValueError):
        return None
    return value if abs(value) <= MAX_MINOR else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any, limit: int | None = None) -> str:
    text = value if isinstance(value, str) else ("" if value is None or isinstance(value, (dict, list)) else str(value))
    return text[:limit] if limit else text


def classification(items: list[Any]) -> tuple[str, str]:
    """(scheme, code) of the first item: its UNSPSC additional classification when it has one (CUBSO codes
    carry UNSPSC there), else its classification."""
    for item in items:
        item = _dict(item)
        for extra in _list(item.get("additionalClassifications")):
            extra = _dict(extra)
            if _text(extra.get("scheme")).upper() == "UNSPSC" and _text(extra.get("id")):
                return "UNSPSC", _text(extra.get("id"), 16)
        main = _dict(item.get("classification"))
        if _text(main.get("id")):
            return _text(main.get("scheme"), 8), _text(main.get("id"), 16)
    return "", ""


def _when(value: Any) -> datetime | None:
    return ocds.parse_date(value) if isinstance(value, str) else None


def award_id(ocid: str, award_key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{ocid}\x1f{award_key}")


def award_rows(ocid: str, compiled: dict[str, Any], summary: ocds.Summary) -> list[AwardRow]:
    tender = _dict(compiled.get("tender"))
    parties = {p.party_id: p for p in summary.parties}
    tender_currency = _text(_dict(tender.get("value")).get("currency")).upper()
    release_date = _when(compiled.get("date"))
    category = CATEGORIES.get(_text(tender.get("mainProcurementCategory")), "")
    method = _text(tender.get("procurementMethod"), 32)
    out: list[AwardRow] = []
    seen: set[str] = set()
    for n, award in enumerate(_list(compiled.get("awards"))):
        if not isinstance(award, dict):
            continue
        key = _text(award.get("id")) or f"#{n}"
        if key in seen:
            continue
        seen.add(key)
        at = _when(award.get("date")) or release_date
        if at is None:
            continue
        suppliers = [s for s in _list(award.get("suppliers")) if isinstance(s, dict)]
        first = suppliers[0] if suppliers else {}
        party = parties.get(_text(first.get("id")))
        value = _dict(award.get("value"))
        currency = (_text(value.get("currency")) or tender_currency).upper()
        currency = currency if len(currency) == 3 and currency.isascii() and currency.isalpha() else ""
        status = _text(award.get("status"))
        state = status if status in OCDS_STATES else ("active" if suppliers else "pending")
        scheme, code = classification(_list(award.get("items")) or _list(tender.get("items")))
        out.append(AwardRow(
            award_id=award_id(ocid, key), ocid=ocid, tender_title=_text(tender.get("title")),
            lot_title=_text(award.get("title")), agency_ruc=summary.buyer_ruc, agency_name=summary.buyer_name,
            supplier_ruc=party.ruc if party else ocds.ruc_of(first),
            supplier_name=_text(first.get("name")) or (party.name if party else ""),
            method=method, category=category, classification_scheme=scheme, classification_code=code,
            value=minor_units(value.get("amount"), currency) if currency else None, currency=currency,
            state=state, awarded_at=at.astimezone(UTC)))
    return out
