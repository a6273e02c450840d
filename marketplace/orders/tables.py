"""The purchase order table, column for column as migrations/ makes it (tests/core/test_tables_drift.py checks)."""

from piccolo.columns import UUID, BigInt, BigSerial, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB


class PurchaseOrder(Table, tablename="purchase_order", db=DB):
    id = UUID(primary_key=True)
    number = BigSerial()  # GENERATED ALWAYS AS IDENTITY: piccolo writes DEFAULT
    agency_id = UUID(default=None)
    supplier_id = UUID(default=None)
    offer_id = UUID(default=None)
    product_sheet_id = UUID(default=None)
    product_name = Text(default=None)
    unit = Text(default=None)
    region_code = Varchar(length=2, default=None)
    delivery_ubigeo = Varchar(length=6, default=None)
    quantity = Integer(default=None)
    unit_price_cents = BigInt(default=None)
    total_cents = BigInt(default=None)
    currency = Varchar(length=3, default=None)
    delivery_days = Integer(default=None)
    notes = Text()
    status = Varchar(length=10, default="placed")  # placed | accepted | rejected | cancelled
    reason = Text()
    placed_by = UUID(default=None)
    placed_at = Timestamptz(default=None)
    decided_by = UUID(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
