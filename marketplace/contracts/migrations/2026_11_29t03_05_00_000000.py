"""Contracts: the contract, its milestones, amendments, deliveries and documents."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "contracts: contract, milestones, amendments, deliveries, documents"

SQL = r"""
CREATE TABLE contract (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Where it came from: a consented award (tender lot) or an accepted purchase order. One contract each.
    source_type text NOT NULL CHECK (source_type IN ('award', 'order')),
    source_id uuid NOT NULL,
    tender_id uuid,
    lot_id uuid,
    agency_org_id uuid NOT NULL REFERENCES organisation (id),
    supplier_org_id uuid NOT NULL REFERENCES organisation (id),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    currency char(3) NOT NULL DEFAULT 'PEN' CHECK (currency ~ '^[A-Z]{3}$'),
    original_value_cents bigint NOT NULL CHECK (original_value_cents > 0),
    value_cents bigint NOT NULL CHECK (value_cents >= 0),
    period_start date,
    period_end date,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'signed', 'completed', 'terminated')),
    -- Performance guarantee (garantía de fiel cumplimiento), given at signature.
    guarantee_kind text CHECK (guarantee_kind IN ('bank_letter', 'insurance_bond', 'retention')),
    guarantee_amount_cents bigint CHECK (guarantee_amount_cents >= 0),
    guarantee_issuer text,
    guarantee_reference text,
    guarantee_expires_on date,
    -- Cumulative change of value by amendments, in % of the original value (oversight flags large ones).
    cumulative_change_pct numeric(9, 4) NOT NULL DEFAULT 0,
    signed_at timestamptz,
    signed_by uuid REFERENCES app_user (id),
    completed_at timestamptz,
    terminated_at timestamptz,
    termination_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_type, source_id),
    CHECK (period_end IS NULL OR period_start IS NULL OR period_end >= period_start)
);
CREATE INDEX contract_agency_idx ON contract (agency_org_id, created_at DESC);
CREATE INDEX contract_supplier_idx ON contract (supplier_org_id, created_at DESC);

CREATE TABLE contract_milestone (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contract_id uuid NOT NULL REFERENCES contract (id),
    seq integer NOT NULL CHECK (seq >= 1),
    deliverable text NOT NULL CHECK (length(deliverable) BETWEEN 1 AND 1000),
    due_date date NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'accepted', 'paid')),
    accepted_at timestamptz,
    paid_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contract_id, seq)
);

CREATE TABLE contract_amendment (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contract_id uuid NOT NULL REFERENCES contract (id),
    seq integer NOT NULL CHECK (seq >= 1),
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 4000),
    value_change_cents bigint NOT NULL DEFAULT 0,
    previous_value_cents bigint NOT NULL,
    new_value_cents bigint NOT NULL CHECK (new_value_cents >= 0),
    previous_period_end date,
    new_period_end date,
    change_pct numeric(9, 4) NOT NULL,
    cumulative_change_pct numeric(9, 4) NOT NULL,
    created_by uuid REFERENCES app_user (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contract_id, seq)
);

CREATE TABLE contract_delivery (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contract_id uuid NOT NULL REFERENCES contract (id),
    milestone_id uuid NOT NULL REFERENCES contract_milestone (id),
    note text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT 'submitted' CHECK (state IN ('submitted', 'accepted', 'rejected')),
    submitted_by uuid REFERENCES app_user (id),
    submitted_at timestamptz NOT NULL,
    decided_by uuid REFERENCES app_user (id),
    decided_at timestamptz,
    decision_note text NOT NULL DEFAULT ''
);
CREATE INDEX contract_delivery_contract_idx ON contract_delivery (contract_id, submitted_at);
-- At most one delivery awaiting a decision per milestone.
CREATE UNIQUE INDEX contract_delivery_open_key ON contract_delivery (milestone_id) WHERE state = 'submitted';

CREATE TABLE contract_document (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contract_id uuid NOT NULL REFERENCES contract (id),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    media_type text NOT NULL DEFAULT 'application/pdf',
    sha256 char(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    url text NOT NULL DEFAULT '',
    uploaded_by uuid REFERENCES app_user (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contract_document_contract_idx ON contract_document (contract_id);
"""


async def forwards():
    return sql_migration(ID, "contracts", DESCRIPTION, SQL)
