"""The catalogue tables, column for column as suppliers/migrations/ makes them (tests/core/test_tables_drift.py
checks)."""

from piccolo.columns import JSONB, UUID, BigInt, BigSerial, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB
from suppliers.tables import Supplier


class Catalog(Table, tablename="catalog", db=DB):
    id = UUID(primary_key=True)
    code = Varchar(length=40, default=None)
    name = Text(default=None)
    description = Text()
    status = Varchar(length=8, default="open")  # open | closed
    created_at = Timestamptz()


class ProductSheet(Table, tablename="product_sheet", db=DB):
    id = UUID(primary_key=True)
    catalog = ForeignKey(Catalog, db_column_name="catalog_id", null=False)
    name = Text(default=None)
    description = Text()
    attributes = JSONB()
    classification_code = Varchar(length=16, default=None)
    unit = Varchar(length=32, default=None)
    created_at = Timestamptz()


class Offer(Table, tablename="offer", db=DB):
    id = UUID(primary_key=True)
    product_sheet = ForeignKey(ProductSheet, db_column_name="product_sheet_id", null=False)
    supplier = ForeignKey(Supplier, db_column_name="supplier_id", null=False)
    brand = Text()
    description = Text()
    status = Varchar(length=8, default="active")  # active | paused
    created_at = Timestamptz()
    updated_at = Timestamptz()


# The real key is (offer_id, region_code); piccolo needs a one-column primary key, so `offer_id` stands in:
# query with both columns in the WHERE clause, never through an object's save() or remove().
class OfferRegion(Table, tablename="offer_region", db=DB):
    offer_id = UUID(primary_key=True, default=None)
    region_code = Varchar(length=2, default=None)
    price_cents = BigInt(default=None)
    currency = Varchar(length=3, default="PEN")
    delivery_days = Integer(default=None)
    stock = Integer(default=None)
    updated_at = Timestamptz()


class OfferPriceChange(Table, tablename="offer_price_change", db=DB):
    id = BigSerial(primary_key=True)
    offer_id = UUID(default=None)
    region_code = Varchar(length=2, default=None)
    old_price_cents = BigInt(null=True, default=None)
    new_price_cents = BigInt(default=None)
    changed_at = Timestamptz(default=None)
    actor_user_id = UUID(null=True, default=None)


TABLES = [Catalog, ProductSheet, Offer, OfferRegion, OfferPriceChange]
