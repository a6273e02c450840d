"""Supplier registry: the supplier row of a supplier organisation, and its status history."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:10:45:450001"
VERSION = "1.38.0"
DESCRIPTION = "suppliers: registry and status history"

SQL = r"""
-- One row per supplier organisation (organisation.kind = 'supplier'). The RUC, legal name and domicile
-- are the registry's record (organisation.ruc/name/ubigeo hold the same values, set together).
CREATE TABLE supplier (
    organisation_id uuid PRIMARY KEY REFERENCES organisation (id),
    ruc varchar(11) NOT NULL UNIQUE CHECK (ruc ~ '^[0-9]{11}$'),
    legal_name text NOT NULL CHECK (length(legal_name) BETWEEN 1 AND 300),
    ubigeo varchar(6) NOT NULL CHECK (ubigeo ~ '^[0-9]{6}$'),
    person_type varchar(10) NOT NULL CHECK (person_type IN ('natural', 'juridica')),
    mype boolean NOT NULL DEFAULT false,
    status varchar(16) NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'active', 'suspended', 'disqualified')),
    status_reason text NOT NULL DEFAULT '',
    suspended_until timestamptz,
    contact_name text NOT NULL DEFAULT '',
    contact_email text NOT NULL DEFAULT '',
    contact_phone text NOT NULL DEFAULT '',
    categories text[] NOT NULL DEFAULT '{}',
    registered_at timestamptz NOT NULL DEFAULT now(),
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'suspended') = (suspended_until IS NOT NULL))
);
CREATE INDEX supplier_status_idx ON supplier (status);
CREATE INDEX supplier_ubigeo_idx ON supplier (ubigeo);
CREATE INDEX supplier_categories_idx ON supplier USING gin (categories);
CREATE INDEX supplier_suspension_due_idx ON supplier (suspended_until) WHERE status = 'suspended';

CREATE TABLE supplier_status_change (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id uuid NOT NULL REFERENCES supplier (organisation_id),
    from_status varchar(16) NOT NULL,
    to_status varchar(16) NOT NULL,
    reason text NOT NULL,
    suspended_until timestamptz,
    actor_user_id uuid,
    actor_org_id uuid,
    changed_at timestamptz NOT NULL
);
CREATE INDEX supplier_status_change_supplier_idx ON supplier_status_change (supplier_id, id);
"""



async def forwards():
    return sql_migration(ID, "suppliers", DESCRIPTION, SQL)
