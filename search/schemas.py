"""Search responses (msgspec). Each hit says its locality tier when the caller gave an ubigeo. Amounts are Money
objects ({"amount": <céntimos>, "currency": "PEN"}); `score` is the search engine's relevance (a number)."""

from __future__ import annotations

from typing import Literal, TypeVar

import msgspec

from marketplace.core.money import Money
from search.domain import Hit, Page

_Hit = TypeVar("_Hit", bound=msgspec.Struct)

TierLabel = Literal["same_province", "same_region", "adjoining_region", "elsewhere"]


class OfferHit(msgspec.Struct, kw_only=True):
    id: str                      # offer_id + "_" + region: the offer as sold in that region
    offer_id: str
    supplier_id: str
    supplier_name: str
    supplier_ubigeo: str
    mype: bool
    region: str                  # the region this price and delivery time apply to
    name: str
    description: str
    attributes: str
    classification: str
    price: Money
    delivery_days: int
    stock: int | None
    unit: str
    catalogue_id: str | None
    tier: TierLabel | None       # locality of the supplier to the place of delivery (with ?ubigeo=)
    score: float


class CatalogSearchRead(msgspec.Struct, kw_only=True):
    items: list[OfferHit]
    total: int
    total_exact: bool            # false: at least `total` matches (large counts are capped)
    offset: int
    limit: int
    facets: dict[str, dict[str, int]]
    corrected_query: str | None = None


class TenderHit(msgspec.Struct, kw_only=True):
    id: str
    ocid: str
    title: str
    description: str
    agency_id: str
    agency_name: str
    method: str
    category: str
    state: str
    ubigeo: str                  # place of delivery
    region: str
    classification: str
    estimated_value: Money | None
    closing_at: str | None       # submission deadline, RFC 3339
    published_at: str | None
    tier: TierLabel | None       # locality of the place of delivery to the given ubigeo
    score: float


class TenderSearchRead(msgspec.Struct, kw_only=True):
    items: list[TenderHit]
    total: int
    total_exact: bool            # false: at least `total` matches (large counts are capped)
    offset: int
    limit: int
    facets: dict[str, dict[str, int]]
    corrected_query: str | None = None


def _pick(struct: type[_Hit], hit: Hit) -> _Hit:
    money_fields = {"price": "price_cents", "estimated_value": "estimated_value_cents"}
    fields = {f: hit.doc.get(f) for f in struct.__struct_fields__ if f not in ("tier", "score", *money_fields)}
    currency = hit.doc.get("currency") or "PEN"
    for name, column in money_fields.items():
        if name in struct.__struct_fields__:
            cents = hit.doc.get(column)
            fields[name] = None if cents is None else Money(amount=int(cents), currency=currency)
    for name, default in (("description", ""), ("attributes", ""), ("classification", ""), ("unit", ""),
                          ("ocid", ""), ("agency_id", ""), ("agency_name", ""),
                          ("ubigeo", ""), ("region", ""), ("method", ""), ("category", ""), ("state", "")):
        if name in fields and fields[name] is None:
            fields[name] = default
    if "mype" in fields:
        fields["mype"] = bool(fields["mype"])
    return struct(**fields, tier=hit.tier_label, score=round(hit.score, 6))


def catalog_read(page: Page) -> CatalogSearchRead:
    return CatalogSearchRead(items=[_pick(OfferHit, h) for h in page.hits], total=page.total,
                             total_exact=page.total_exact, offset=page.offset, limit=page.limit,
                             facets=page.facets,
                             corrected_query=page.corrected)


def tenders_read(page: Page) -> TenderSearchRead:
    return TenderSearchRead(items=[_pick(TenderHit, h) for h in page.hits], total=page.total,
                            total_exact=page.total_exact, offset=page.offset, limit=page.limit,
                            facets=page.facets,
                            corrected_query=page.corrected)
