"""The catalogue's SQL that earns its place, each with a typed row.

- The search documents (`documents_*`): every offer with its product sheet, catalogue, supplier and the
  terms of every region it serves, aggregated by PostgreSQL in one round trip. Search reindexes the whole
  catalogue through `iter_offer_documents` a thousand offers at a time (a million offers in the bench data
  set, bench/generate.py), and every change to an offer, a supplier's standing or a catalogue re-reads its
  offers' documents here, in the writer's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import db


class RegionPrice(msgspec.Struct):
    """An offer's terms in one region it serves."""

    region_code: str
    price_cents: int
    currency: str
    delivery_days: int
    stock: int


class DocumentRow(msgspec.Struct):
    """An offer with everything search indexes (see suppliers.catalog.events.OfferDocument)."""

    id: UUID
    supplier_id: UUID
    status: str
    brand: str
    description: str
    updated_at: datetime
    sheet_id: UUID
    name: str
    attributes: dict[str, Any]
    classification_code: str
    unit: str
    catalog_id: UUID
    catalog_code: str
    catalog_name: str
    catalog_status: str
    legal_name: str
    ruc: str
    ubigeo: str
    mype: bool
    supplier_status: str
    suspended_until: datetime | None
    regions: list[RegionPrice]


_DOCUMENTS = """
SELECT o.id, o.supplier_id, o.status, o.brand, o.description, o.updated_at,
       p.id AS sheet_id, p.name, p.attributes::text AS attributes, p.classification_code, p.unit,
       c.id AS catalog_id, c.code AS catalog_code, c.name AS catalog_name, c.status AS catalog_status,
       s.legal_name, s.ruc, s.ubigeo, s.mype, s.status AS supplier_status, s.suspended_until,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('region_code', r.region_code, 'price_cents', r.price_cents,
                                                     'currency', r.currency, 'delivery_days', r.delivery_days,
                                                     'stock', r.stock) ORDER BY r.region_code)
                 FROM offer_region r WHERE r.offer_id = o.id), '[]'::jsonb)::text AS regions
FROM offer o
JOIN product_sheet p ON p.id = o.product_sheet_id
JOIN catalog c ON c.id = p.catalog_id
JOIN supplier s ON s.organisation_id = o.supplier_id
"""

_attributes = msgspec.json.Decoder(dict[str, Any])
_regions = msgspec.json.Decoder(list[RegionPrice])


def _rows(rows: list[dict[str, Any]]) -> list[DocumentRow]:
    return [DocumentRow(**{**r, "attributes": _attributes.decode(r["attributes"]),
                           "regions": _regions.decode(r["regions"])}) for r in rows]


async def documents_of_offers(offer_ids: list[UUID]) -> list[DocumentRow]:
    return _rows(await db.fetch(_DOCUMENTS + " WHERE o.id = ANY($1::uuid[]) ORDER BY o.id", list(offer_ids)))


async def documents_after(after: UUID | None, limit: int) -> list[DocumentRow]:
    return _rows(await db.fetch(_DOCUMENTS + " WHERE ($1::uuid IS NULL OR o.id > $1) ORDER BY o.id LIMIT $2",
                                after, limit))


async def documents_of_supplier(supplier_id: UUID) -> list[DocumentRow]:
    return _rows(await db.fetch(_DOCUMENTS + " WHERE o.supplier_id = $1 ORDER BY o.id", supplier_id))


async def documents_of_catalog(catalog_id: UUID) -> list[DocumentRow]:
    return _rows(await db.fetch(_DOCUMENTS + " WHERE c.id = $1 ORDER BY o.id", catalog_id))
