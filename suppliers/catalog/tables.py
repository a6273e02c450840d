"""piccolo's view of the catalogue tables (the DDL is SQL in suppliers/migrations/)."""

from piccolo.columns import JSONB, UUID, BigInt, BigSerial, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB


class Catalog(Table, tablename="catalog", db=DB):
    id = UUID(primary_key=True)
    code = Varchar(length=40)
    name = Text()
    description = Text()
    status = Varchar(length=8)  # open | closed
    created_at = Timestamptz()


class ProductSheet(Table, tablename="product_sheet", db=DB):
    id = UUID(primary_key=True)
    catalog_id = UUID()
    name = Text()
    description = Text()
    attributes = JSONB()
    classification_code = Varchar(length=16)
    unit = Varchar(length=32)
    created_at = Timestamptz()


class Offer(Table, tablename="offer", db=DB):
    id = UUID(primary_key=True)
    product_sheet_id = UUID()
    supplier_id = UUID()
    brand = Text()
    description = Text()
    status = Varchar(length=8)  # active | paused
    created_at = Timestamptz()
    updated_at = Timestamptz()


class OfferRegion(Table, tablename="offer_region", db=DB):
    offer_id = UUID()
    region_code = Varchar(length=2)
    price_cents = BigInt()
    currency = Varchar(length=3)
    delivery_days = Integer()
    stock = Integer()
    updated_at = Timestamptz()


class OfferPriceChange(Table, tablename="offer_price_change", db=DB):
    id = BigSerial(primary_key=True)
    offer_id = UUID()
    region_code = Varchar(length=2)
    old_price_cents = BigInt(null=True)
    new_price_cents = BigInt()
    changed_at = Timestamptz()
    actor_user_id = UUID(null=True)


TABLES = [Catalog, ProductSheet, Offer, OfferRegion, OfferPriceChange]
