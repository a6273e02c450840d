"""Catalogue payloads: catalogues, product sheets, offers with per-region prices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from marketplace.core.money import Money
from suppliers.schemas import Classification, RegionCode

Code = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]{1,40}$", examples=["AM-2026-001"])]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Text = Annotated[str, msgspec.Meta(max_length=5000)]
Stock = Annotated[int, msgspec.Meta(ge=0, le=10**9)]
Days = Annotated[int, msgspec.Meta(ge=1, le=365)]


class CatalogCreate(msgspec.Struct, forbid_unknown_fields=True):
    code: Code
    name: Name
    description: Text = ""


class CatalogStatusChange(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["open", "closed"]


class CatalogRead(msgspec.Struct):
    id: UUID
    code: str
    name: str
    description: str
    status: str
    created_at: datetime
    product_count: int = 0


class ProductSheetCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    classification_code: Classification
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=32, examples=["unidad", "caja x 12", "kg"])]
    attributes: Annotated[dict[str, Any], msgspec.Meta(max_length=100)] = {}
    description: Text = ""


class ProductSheetRead(msgspec.Struct):
    id: UUID
    catalog_id: UUID
    name: str
    classification_code: str
    unit: str
    attributes: dict[str, Any]
    description: str
    created_at: datetime


class RegionOfferInput(msgspec.Struct, forbid_unknown_fields=True):
    """The terms in one region: `price` is the unit price, in soles (PEN), above 0."""

    region_code: RegionCode
    price: Money
    delivery_days: Days
    stock: Stock


class RegionOfferUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """A region's terms; omitted fields stay as they are (a new region needs all three). `price` is the unit
    price, in soles (PEN), above 0."""

    price: Money | None = None
    delivery_days: Days | None = None
    stock: Stock | None = None


class OfferCreate(msgspec.Struct, forbid_unknown_fields=True):
    product_sheet_id: UUID
    regions: Annotated[list[RegionOfferInput], msgspec.Meta(min_length=1, max_length=25)]
    brand: Annotated[str, msgspec.Meta(max_length=200)] = ""
    description: Text = ""


class OfferUpdate(msgspec.Struct, forbid_unknown_fields=True):
    brand: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    description: Text | None = None


class RegionOfferRead(msgspec.Struct):
    region_code: str
    region_name: str
    price: Money  # the unit price in this region
    delivery_days: int
    stock: int


class OfferRead(msgspec.Struct):
    id: UUID
    supplier_id: UUID
    supplier_name: str
    product_sheet_id: UUID
    product_name: str
    classification_code: str
    unit: str
    catalog_id: UUID
    brand: str
    description: str
    status: str
    regions: list[RegionOfferRead]
    created_at: datetime
    updated_at: datetime


class PriceChangeRead(msgspec.Struct):
    region_code: str
    old_price: Money | None  # null when the region was added
    new_price: Money
    changed_at: datetime


class OfferPage(msgspec.Struct):
    items: list[OfferRead]
    total: int
    limit: int
    offset: int


class ProductSheetPage(msgspec.Struct):
    items: list[ProductSheetRead]
    total: int
    limit: int
    offset: int
