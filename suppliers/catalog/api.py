"""Catalogue endpoints: /api/v1/catalogs (catalogues, product sheets), offers and their regional terms."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.core.deps import ActorDep
from suppliers.catalog import service
from suppliers.catalog.schemas import (
    CatalogCreate,
    CatalogRead,
    CatalogStatusChange,
    OfferCreate,
    OfferPage,
    OfferRead,
    OfferUpdate,
    PriceChangeRead,
    ProductSheetCreate,
    ProductSheetPage,
    ProductSheetRead,
    RegionOfferUpdate,
)

Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]
RegionQuery = Annotated[str | None, QueryParameter(pattern="^[0-9]{2}$")]


class CatalogController(Controller):
    path = "/api/v1/catalogs"
    tags = ["catalogue"]

    @post("/", summary="Create a catalogue (framework agreement); platform administrators")
    async def create(self, data: JSONBody[CatalogCreate], actor: ActorDep) -> CatalogRead:
        return await service.create_catalog(actor=actor, data=data)

    @get("/", summary="The catalogues")
    async def list_catalogs(self, actor: ActorDep) -> list[CatalogRead]:
        return await service.list_catalogs(actor=actor)

    @get("/{catalog_id:uuid}", summary="A catalogue")
    async def read(self, catalog_id: FromPath[UUID], actor: ActorDep) -> CatalogRead:
        return await service.read_catalog(actor=actor, catalog_id=catalog_id)

    @post("/{catalog_id:uuid}/status", status_code=200,
          summary="Close a catalogue (its offers leave search and cannot be ordered) or reopen it")
    async def set_status(self, catalog_id: FromPath[UUID], data: JSONBody[CatalogStatusChange],
                         actor: ActorDep) -> CatalogRead:
        return await service.set_catalog_status(actor=actor, catalog_id=catalog_id, status=data.status)

    @post("/{catalog_id:uuid}/products", summary="Add a product sheet; platform administrators")
    async def create_product(self, catalog_id: FromPath[UUID], data: JSONBody[ProductSheetCreate],
                             actor: ActorDep) -> ProductSheetRead:
        return await service.create_product_sheet(actor=actor, catalog_id=catalog_id, data=data)

    @get("/{catalog_id:uuid}/products", summary="The catalogue's product sheets")
    async def list_products(
        self, catalog_id: FromPath[UUID], actor: ActorDep,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        classification: Annotated[str | None, QueryParameter(pattern="^[0-9]{2,8}(-[0-9])?$")] = None,
        limit: Limit = 50, offset: Offset = 0,
    ) -> ProductSheetPage:
        return await service.list_product_sheets(actor=actor, catalog_id=catalog_id, q=q,
                                                 classification=classification, limit=limit, offset=offset)

    @get("/{catalog_id:uuid}/products/{product_id:uuid}", summary="A product sheet")
    async def read_product(self, catalog_id: FromPath[UUID], product_id: FromPath[UUID],
                           actor: ActorDep) -> ProductSheetRead:
        return await service.read_product_sheet(actor=actor, catalog_id=catalog_id, product_id=product_id)

    @get("/{catalog_id:uuid}/products/{product_id:uuid}/offers", summary="Offers on sale for a product sheet")
    async def product_offers(self, catalog_id: FromPath[UUID], product_id: FromPath[UUID], actor: ActorDep,
                             region: RegionQuery = None, limit: Limit = 50, offset: Offset = 0) -> OfferPage:
        await service.read_product_sheet(actor=actor, catalog_id=catalog_id, product_id=product_id)
        return await service.list_offers(actor=actor, product_sheet_id=product_id, region=region, limit=limit,
                                         offset=offset)


class SupplierOffersController(Controller):
    path = "/api/v1/suppliers/{supplier_id:uuid}/offers"
    tags = ["catalogue"]

    @post("/", summary="Offer a product sheet with a price, delivery days and stock per region served")
    async def create(self, supplier_id: FromPath[UUID], data: JSONBody[OfferCreate], actor: ActorDep) -> OfferRead:
        return await service.create_offer(actor=actor, supplier_id=supplier_id, data=data)

    @get("/", summary="A supplier's offers (all of them for the supplier itself; those on sale for others)")
    async def list_offers(self, supplier_id: FromPath[UUID], actor: ActorDep, region: RegionQuery = None,
                          limit: Limit = 50, offset: Offset = 0) -> OfferPage:
        return await service.list_offers(actor=actor, supplier_id=supplier_id, region=region, limit=limit,
                                         offset=offset)


class OfferController(Controller):
    path = "/api/v1/offers/{offer_id:uuid}"
    tags = ["catalogue"]

    @get("/", summary="An offer")
    async def read(self, offer_id: FromPath[UUID], actor: ActorDep) -> OfferRead:
        return await service.read_offer(actor=actor, offer_id=offer_id)

    @patch("/", summary="Change an offer's brand or description")
    async def update(self, offer_id: FromPath[UUID], data: JSONBody[OfferUpdate], actor: ActorDep) -> OfferRead:
        return await service.update_offer(actor=actor, offer_id=offer_id, data=data)

    @put("/regions/{region_code:str}", summary="Serve a region, or change its price, delivery days or stock "
                                               "(price changes are kept in the offer's price history)")
    async def set_region(self, offer_id: FromPath[UUID], region_code: FromPath[str], data: JSONBody[RegionOfferUpdate],
                         actor: ActorDep) -> OfferRead:
        return await service.set_region_terms(actor=actor, offer_id=offer_id, region_code=region_code, data=data)

    @delete("/regions/{region_code:str}", status_code=200, summary="Stop serving a region")
    async def remove_region(self, offer_id: FromPath[UUID], region_code: FromPath[str], actor: ActorDep) -> OfferRead:
        return await service.remove_region(actor=actor, offer_id=offer_id, region_code=region_code)

    @post("/pause", status_code=200, summary="Pause the offer: it is neither sold nor found until resumed")
    async def pause(self, offer_id: FromPath[UUID], actor: ActorDep) -> OfferRead:
        return await service.set_offer_status(actor=actor, offer_id=offer_id, status="paused")

    @post("/resume", status_code=200, summary="Put a paused offer back on sale")
    async def resume(self, offer_id: FromPath[UUID], actor: ActorDep) -> OfferRead:
        return await service.set_offer_status(actor=actor, offer_id=offer_id, status="active")

    @get("/price-history", summary="Every price the offer has had, per region")
    async def price_history(self, offer_id: FromPath[UUID], actor: ActorDep) -> list[PriceChangeRead]:
        return await service.price_history(actor=actor, offer_id=offer_id)


ROUTES: list[Any] = [CatalogController, SupplierOffersController, OfferController]
