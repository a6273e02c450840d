"""piccolo's view of the purchase order table (the DDL is SQL in migrations/)."""

from piccolo.columns import UUID, BigInt, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB


class PurchaseOrder(Table, tablename="purchase_order", db=DB):
    id = UUID(primary_key=True)
    number = BigInt()
    agency_id = UUID()
    supplier_id = UUID()
    offer_id = UUID()
    product_sheet_id = UUID()
    product_name = Text()
    unit = Text()
    region_code = Varchar(length=2)
    delivery_ubigeo = Varchar(length=6)
    quantity = Integer()
    unit_price_cents = BigInt()
    total_cents = BigInt()
    currency = Varchar(length=3)
    delivery_days = Integer()
    notes = Text()
    status = Varchar(length=10)  # placed | accepted | rejected | cancelled
    reason = Text()
    placed_by = UUID()
    placed_at = Timestamptz()
    decided_by = UUID(null=True)
    decided_at = Timestamptz(null=True, default=None)
