"""Offers as search sees them, and the outbox events that keep the search index in step.

Topics (consumed by search):

- 'offer.upserted' {offer_id, supplier_org_id, change, document}: the offer is sellable and should be
  findable; `document` is an OfferDocument as JSON (the consumer may also re-read `offer_documents`).
- 'offer.deleted' {offer_id, supplier_org_id, change}: remove it from the index (paused, its supplier
  suspended or disqualified, its catalogue closed, no region served).
- 'supplier.status_changed' is emitted by suppliers.service.

`change` says why: created | price_changed | updated | resumed | paused | supplier_active |
supplier_suspended | supplier_disqualified | supplier_updated | catalog_closed | catalog_opened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import clock, db, outbox
from suppliers.domain import Status, effective_status

TOPIC_UPSERTED = "offer.upserted"
TOPIC_DELETED = "offer.deleted"


class RegionPrice(msgspec.Struct):
    region_code: str
    price_cents: int
    currency: str
    delivery_days: int
    stock: int


class OfferDocument(msgspec.Struct):
    """Everything search needs to index and rank an offer (local first by the supplier's ubigeo and the
    regions it serves)."""

    offer_id: UUID
    supplier_org_id: UUID
    supplier_name: str
    supplier_ruc: str
    supplier_ubigeo: str
    supplier_mype: bool
    supplier_status: str
    catalog_id: UUID
    catalog_code: str
    catalog_name: str
    product_sheet_id: UUID
    name: str
    classification_code: str
    unit: str
    attributes: dict[str, Any]
    brand: str
    description: str
    status: str
    regions: list[RegionPrice]
    updated_at: datetime
    searchable: bool


_SELECT = """
SELECT o.id, o.supplier_id, o.status, o.brand, o.description, o.updated_at,
       p.id AS sheet_id, p.name, p.attributes, p.classification_code, p.unit,
       c.id AS catalog_id, c.code AS catalog_code, c.name AS catalog_name, c.status AS catalog_status,
       s.legal_name, s.ruc, s.ubigeo, s.mype, s.status AS supplier_status, s.suspended_until,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('region_code', r.region_code, 'price_cents', r.price_cents,
                                                     'currency', r.currency, 'delivery_days', r.delivery_days,
                                                     'stock', r.stock) ORDER BY r.region_code)
                 FROM offer_region r WHERE r.offer_id = o.id), '[]'::jsonb) AS regions
FROM offer o
JOIN product_sheet p ON p.id = o.product_sheet_id
JOIN catalog c ON c.id = p.catalog_id
JOIN supplier s ON s.organisation_id = o.supplier_id
"""

_json = msgspec.json.Decoder()


def _document(row: dict[str, Any], now: datetime) -> OfferDocument:
    supplier_status = effective_status(row["supplier_status"], row["suspended_until"], now)
    regions_raw = row["regions"]
    regions = msgspec.convert(_json.decode(regions_raw) if isinstance(regions_raw, (str, bytes)) else regions_raw,
                              list[RegionPrice])
    attributes = row["attributes"]
    if isinstance(attributes, (str, bytes)):
        attributes = _json.decode(attributes)
    return OfferDocument(
        offer_id=row["id"], supplier_org_id=row["supplier_id"], supplier_name=row["legal_name"],
        supplier_ruc=row["ruc"], supplier_ubigeo=row["ubigeo"], supplier_mype=row["mype"],
        supplier_status=supplier_status.value, catalog_id=row["catalog_id"], catalog_code=row["catalog_code"],
        catalog_name=row["catalog_name"], product_sheet_id=row["sheet_id"], name=row["name"],
        classification_code=row["classification_code"], unit=row["unit"], attributes=attributes,
        brand=row["brand"], description=row["description"], status=row["status"], regions=regions,
        updated_at=row["updated_at"],
        searchable=(row["status"] == "active" and row["catalog_status"] == "open"
                    and supplier_status is Status.ACTIVE and bool(regions)),
    )


async def offer_documents(*, offer_ids: list[UUID]) -> list[OfferDocument]:
    """The current documents of these offers (missing ids are left out)."""
    rows = await db.fetch(_SELECT + " WHERE o.id = ANY($1::uuid[]) ORDER BY o.id", list(offer_ids))
    now = clock.now()
    return [_document(r, now) for r in rows]


async def iter_offer_documents(*, after: UUID | None = None, limit: int = 1000) -> list[OfferDocument]:
    """A page of every offer in id order, for a full reindex: pass the last offer_id as `after`."""
    rows = await db.fetch(_SELECT + " WHERE ($1::uuid IS NULL OR o.id > $1) ORDER BY o.id LIMIT $2", after, limit)
    now = clock.now()
    return [_document(r, now) for r in rows]


_to_builtins = msgspec.to_builtins


async def _emit(docs: list[OfferDocument], change: str) -> None:
    for doc in docs:
        base = {"offer_id": str(doc.offer_id), "supplier_org_id": str(doc.supplier_org_id), "change": change}
        if doc.searchable:
            await outbox.emit(topic=TOPIC_UPSERTED, aggregate_type="offer", aggregate_id=doc.offer_id,
                              payload={**base, "document": _to_builtins(doc)})
        else:
            await outbox.emit(topic=TOPIC_DELETED, aggregate_type="offer", aggregate_id=doc.offer_id, payload=base)


async def emit_offer(*, offer_id: UUID, change: str) -> None:
    """Announce an offer's new state: upserted when it is findable, deleted otherwise."""
    await _emit(await offer_documents(offer_ids=[offer_id]), change)


async def emit_supplier_offers(*, supplier_id: UUID, change: str) -> None:
    rows = await db.fetch(_SELECT + " WHERE o.supplier_id = $1 ORDER BY o.id", supplier_id)
    now = clock.now()
    await _emit([_document(r, now) for r in rows], change)


async def emit_catalog_offers(*, catalog_id: UUID, change: str) -> None:
    rows = await db.fetch(_SELECT + " WHERE c.id = $1 ORDER BY o.id", catalog_id)
    now = clock.now()
    await _emit([_document(r, now) for r in rows], change)
