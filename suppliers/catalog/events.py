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

from marketplace.core import clock, outbox
from suppliers.catalog import queries
from suppliers.catalog.queries import RegionPrice
from suppliers.domain import Status, effective_status

TOPIC_UPSERTED = "offer.upserted"
TOPIC_DELETED = "offer.deleted"


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


def _document(row: queries.DocumentRow, now: datetime) -> OfferDocument:
    supplier_status = effective_status(row.supplier_status, row.suspended_until, now)
    regions = row.regions
    return OfferDocument(
        offer_id=row.id, supplier_org_id=row.supplier_id, supplier_name=row.legal_name, supplier_ruc=row.ruc,
        supplier_ubigeo=row.ubigeo, supplier_mype=row.mype, supplier_status=supplier_status.value,
        catalog_id=row.catalog_id, catalog_code=row.catalog_code, catalog_name=row.catalog_name,
        product_sheet_id=row.sheet_id, name=row.name, classification_code=row.classification_code, unit=row.unit,
        attributes=row.attributes, brand=row.brand, description=row.description, status=row.status,
        regions=regions, updated_at=row.updated_at,
        searchable=(row.status == "active" and row.catalog_status == "open"
                    and supplier_status is Status.ACTIVE and bool(regions)),
    )


def _documents(rows: list[queries.DocumentRow]) -> list[OfferDocument]:
    now = clock.now()
    return [_document(r, now) for r in rows]


async def offer_documents(*, offer_ids: list[UUID]) -> list[OfferDocument]:
    """The current documents of these offers (missing ids are left out)."""
    return _documents(await queries.documents_of_offers(offer_ids))


async def iter_offer_documents(*, after: UUID | None = None, limit: int = 1000) -> list[OfferDocument]:
    """A page of every offer in id order, for a full reindex: pass the last offer_id as `after`."""
    return _documents(await queries.documents_after(after, limit))


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
    await _emit(_documents(await queries.documents_of_supplier(supplier_id)), change)


async def emit_catalog_offers(*, catalog_id: UUID, change: str) -> None:
    await _emit(_documents(await queries.documents_of_catalog(catalog_id)), change)
