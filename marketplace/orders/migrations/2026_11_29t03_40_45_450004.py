"""Purchase orders against catalogue offers."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:40:45:450004"
VERSION = "1.38.0"
DESCRIPTION = "orders: purchase orders"

SQL = r"""
-- An agency's order from a catalogue offer. The price, product and delivery terms are copied at ordering
-- time: later price changes do not touch an order.
CREATE TABLE purchase_order (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    agency_id uuid NOT NULL REFERENCES organisation (id),
    supplier_id uuid NOT NULL REFERENCES organisation (id),
    offer_id uuid NOT NULL REFERENCES offer (id),
    product_sheet_id uuid NOT NULL,
    product_name text NOT NULL,
    unit text NOT NULL,
    region_code varchar(2) NOT NULL,
    delivery_ubigeo varchar(6) NOT NULL CHECK (delivery_ubigeo ~ '^[0-9]{6}$'),
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price_cents bigint NOT NULL CHECK (unit_price_cents > 0),
    total_cents bigint NOT NULL CHECK (total_cents = unit_price_cents * quantity),
    currency varchar(3) NOT NULL,
    delivery_days integer NOT NULL,
    notes text NOT NULL DEFAULT '',
    status varchar(10) NOT NULL DEFAULT 'placed' CHECK (status IN ('placed', 'accepted', 'rejected', 'cancelled')),
    reason text NOT NULL DEFAULT '',
    placed_by uuid NOT NULL REFERENCES app_user (id),
    placed_at timestamptz NOT NULL,
    decided_by uuid REFERENCES app_user (id),
    decided_at timestamptz
);
CREATE INDEX purchase_order_agency_idx ON purchase_order (agency_id, placed_at DESC);
CREATE INDEX purchase_order_supplier_idx ON purchase_order (supplier_id, placed_at DESC);
CREATE INDEX purchase_order_offer_idx ON purchase_order (offer_id);
"""


async def forwards():
    return sql_migration(ID, "orders", DESCRIPTION, SQL)
