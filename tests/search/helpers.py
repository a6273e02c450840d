"""Catalogue data for search tests, made through the suppliers domain's own services."""

from __future__ import annotations

import itertools
from uuid import UUID

from marketplace.core import db, outbox
from marketplace.core.actor import SYSTEM
from marketplace.core.money import Money
from suppliers.catalog import service as catalog
from suppliers.catalog.schemas import CatalogCreate, OfferCreate, ProductSheetCreate, RegionOfferInput
from tests import waiting

_seq = itertools.count(1)


async def product(name: str, *, classification: str = "43211503", attributes: dict | None = None) -> UUID:
    n = next(_seq)
    async with db.unit_of_work():
        cat = await catalog.create_catalog(actor=SYSTEM, data=CatalogCreate(code=f"CAT-{n}", name=f"Catálogo {n}"))
        sheet = await catalog.create_product_sheet(
            actor=SYSTEM, catalog_id=cat.id,
            data=ProductSheetCreate(name=name, classification_code=classification, unit="unidad",
                                    attributes=attributes or {}))
    return sheet.id


async def offer(supplier_id: UUID, sheet_id: UUID, regions: dict[str, int], *, brand: str = "") -> UUID:
    """An offer of `sheet_id` by `supplier_id`, priced per region {"08": 250_000, ...}."""
    async with db.unit_of_work():
        created = await catalog.create_offer(actor=SYSTEM, supplier_id=supplier_id, data=OfferCreate(
            product_sheet_id=sheet_id, brand=brand,
            regions=[RegionOfferInput(region_code=r, price=Money(amount=p), delivery_days=3, stock=10)
                     for r, p in regions.items()]))
    return created.id


async def drain(*, wait: bool = True) -> outbox.DrainResult:
    """Drain the search consumer. The watermark is the server's oldest running transaction, and this
    PostgreSQL server is shared with other test runs, so wait (briefly) until nothing is held back; after
    a failure the consumer backs off (outbox retry_at), so wait for that too."""
    import search.jobs  # noqa: F401  (registers the consumer)

    total = outbox.DrainResult()

    async def drained() -> bool:
        result = await outbox.drain("search")
        total.delivered += result.delivered
        total.passed += result.passed
        total.failed, total.held_back, total.busy = result.failed, result.held_back, result.busy
        return bool(result.failed or not wait or not (result.held_back or result.busy or result.deferred))

    await waiting.until(drained, "the search consumer to be drained")
    return total
