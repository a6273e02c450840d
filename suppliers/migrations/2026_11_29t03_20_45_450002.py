"""Catalogues (framework agreements): product sheets, supplier offers priced per region, price history."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:20:45:450002"
VERSION = "1.38.0"
DESCRIPTION = "suppliers: catalogues, product sheets, offers per region, price history"

SQL = r"""
CREATE TABLE catalog (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code varchar(40) NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9._-]{1,40}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    description text NOT NULL DEFAULT '',
    status varchar(8) NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE product_sheet (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    catalog_id uuid NOT NULL REFERENCES catalog (id),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    description text NOT NULL DEFAULT '',
    attributes jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    classification_code varchar(16) NOT NULL CHECK (classification_code ~ '^[0-9]{2,8}(-[0-9])?$'),
    unit varchar(32) NOT NULL CHECK (length(unit) >= 1),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_sheet_catalog_idx ON product_sheet (catalog_id);
CREATE INDEX product_sheet_classification_idx ON product_sheet (classification_code);

-- A supplier's offer on a product sheet; one per supplier and sheet. Paused offers are not sold nor found.
CREATE TABLE offer (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    product_sheet_id uuid NOT NULL REFERENCES product_sheet (id),
    supplier_id uuid NOT NULL REFERENCES supplier (organisation_id),
    brand text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    status varchar(8) NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (supplier_id, product_sheet_id)
);
CREATE INDEX offer_product_sheet_idx ON offer (product_sheet_id);

-- Per region served: the current price, delivery time and stock. Orders reserve stock with a guarded
-- UPDATE (stock >= quantity), and the CHECK makes overselling impossible even for a buggy writer.
CREATE TABLE offer_region (
    offer_id uuid NOT NULL REFERENCES offer (id) ON DELETE CASCADE,
    region_code varchar(2) NOT NULL CHECK (region_code ~ '^[0-9]{2}$'),
    price_cents bigint NOT NULL CHECK (price_cents > 0),
    currency varchar(3) NOT NULL DEFAULT 'PEN' CHECK (currency ~ '^[A-Z]{3}$'),
    delivery_days integer NOT NULL CHECK (delivery_days BETWEEN 1 AND 365),
    stock integer NOT NULL CHECK (stock >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (offer_id, region_code)
);
CREATE INDEX offer_region_region_idx ON offer_region (region_code);

CREATE TABLE offer_price_change (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    offer_id uuid NOT NULL REFERENCES offer (id),
    region_code varchar(2) NOT NULL,
    old_price_cents bigint,
    new_price_cents bigint NOT NULL,
    changed_at timestamptz NOT NULL,
    actor_user_id uuid
);
CREATE INDEX offer_price_change_offer_idx ON offer_price_change (offer_id, id);
"""


async def forwards():
    return sql_migration(ID, "suppliers", DESCRIPTION, SQL)
