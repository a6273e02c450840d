"""Purchase order payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from marketplace.core.money import Money
from suppliers.schemas import Ubigeo


class OrderCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Order `quantity` units of an offer, delivered at `delivery_ubigeo` (in a region the offer serves),
    at that region's current price."""

    offer_id: UUID
    delivery_ubigeo: Ubigeo
    quantity: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    notes: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class OrderDecision(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=2000)]


class OrderRead(msgspec.Struct):
    id: UUID
    number: int
    agency_id: UUID
    supplier_id: UUID
    offer_id: UUID
    product_sheet_id: UUID
    product_name: str
    unit: str
    region_code: str
    delivery_ubigeo: str
    delivery_place: str
    quantity: int
    unit_price: Money  # the region's price when the order was placed
    total: Money  # unit_price x quantity
    delivery_days: int
    notes: str
    status: Literal["placed", "accepted", "rejected", "cancelled"]
    reason: str
    placed_at: datetime
    decided_at: datetime | None


class OrderPage(msgspec.Struct):
    items: list[OrderRead]
    total: int
    limit: int
    offset: int
