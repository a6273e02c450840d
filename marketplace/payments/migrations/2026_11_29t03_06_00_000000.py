"""Payments: payment operations, Stripe events (stored once), connected accounts and the immutable ledger."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:06:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payments: payment, stripe_event, connected_account, ledger_entry, contract_balance"

SQL = r"""
-- One row per business payment operation. `idempotency_key` is derived from the operation
-- ('fee:<supplier>:<year>', 'bond:<appeal>', 'milestone:<id>:<attempt>', 'bond-refund:<appeal>') and is
-- sent to Stripe as the Idempotency-Key, so a job that runs twice never pays twice.
CREATE TABLE payment (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind text NOT NULL CHECK (kind IN ('registry_fee', 'appeal_bond', 'bond_refund', 'milestone')),
    method text NOT NULL CHECK (method IN ('stripe', 'stripe_connect', 'treasury')),
    state text NOT NULL DEFAULT 'requested' CHECK (state IN
        ('requested', 'pending', 'processing', 'failed', 'canceled', 'succeeded', 'reversed')),
    idempotency_key text NOT NULL UNIQUE,
    attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    supplier_org_id uuid NOT NULL REFERENCES organisation (id),
    agency_org_id uuid REFERENCES organisation (id),
    contract_id uuid REFERENCES contract (id),
    milestone_id uuid REFERENCES contract_milestone (id),
    appeal_id uuid,
    fee_year integer,
    refund_of uuid REFERENCES payment (id),
    stripe_object_id text UNIQUE,
    stripe_account_id text,
    client_secret text,
    external_reference text,
    failure_reason text,
    requested_by uuid REFERENCES app_user (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    settled_at timestamptz,
    CHECK (kind <> 'milestone' OR (contract_id IS NOT NULL AND milestone_id IS NOT NULL)),
    CHECK (kind <> 'appeal_bond' OR appeal_id IS NOT NULL),
    CHECK (kind <> 'registry_fee' OR fee_year IS NOT NULL),
    CHECK (kind <> 'bond_refund' OR refund_of IS NOT NULL),
    CHECK (method <> 'treasury' OR external_reference IS NOT NULL)
);
CREATE INDEX payment_supplier_idx ON payment (supplier_org_id, created_at DESC);
CREATE INDEX payment_agency_idx ON payment (agency_org_id, created_at DESC);
CREATE INDEX payment_contract_idx ON payment (contract_id);
CREATE INDEX payment_appeal_idx ON payment (appeal_id) WHERE appeal_id IS NOT NULL;
CREATE INDEX payment_requested_idx ON payment (created_at) WHERE state = 'requested';
-- One live payment per milestone: a new attempt only after the previous one failed or was reversed.
CREATE UNIQUE INDEX payment_milestone_live_key ON payment (milestone_id)
    WHERE kind = 'milestone' AND state NOT IN ('failed', 'canceled', 'reversed');
CREATE UNIQUE INDEX payment_refund_of_key ON payment (refund_of) WHERE refund_of IS NOT NULL;

-- Stripe webhook events, stored once (the event id is the key), applied by a job.
CREATE TABLE stripe_event (
    id text PRIMARY KEY,
    type text NOT NULL,
    object_id text,
    api_created timestamptz,
    livemode boolean NOT NULL DEFAULT false,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    applied_at timestamptz,
    outcome text CHECK (outcome IN ('applied', 'ignored', 'unmatched'))
);
CREATE INDEX stripe_event_pending_idx ON stripe_event (received_at) WHERE applied_at IS NULL;

-- A supplier's Stripe Connect account (milestone payments go there when it can receive transfers).
CREATE TABLE connected_account (
    organisation_id uuid PRIMARY KEY REFERENCES organisation (id),
    stripe_account_id text NOT NULL UNIQUE CHECK (stripe_account_id ~ '^acct_[A-Za-z0-9]+$'),
    transfers_enabled boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The ledger: immutable entries in céntimos. 'in' is money received from a supplier (fee, bond, a
-- reversed transfer); 'out' is money paid to a supplier (milestone, refunded bond).
CREATE TABLE ledger_entry (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    payment_id uuid NOT NULL REFERENCES payment (id),
    entry_type text NOT NULL CHECK (entry_type IN
        ('registry_fee', 'appeal_bond', 'bond_refund', 'milestone_payment', 'transfer_reversal')),
    direction text NOT NULL CHECK (direction IN ('in', 'out')),
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    currency char(3) NOT NULL,
    supplier_org_id uuid NOT NULL REFERENCES organisation (id),
    contract_id uuid REFERENCES contract (id),
    milestone_id uuid REFERENCES contract_milestone (id),
    appeal_id uuid,
    fee_year integer,
    reference text NOT NULL DEFAULT '',
    UNIQUE (payment_id, entry_type)
);
CREATE INDEX ledger_entry_contract_idx ON ledger_entry (contract_id) WHERE contract_id IS NOT NULL;
CREATE INDEX ledger_entry_supplier_idx ON ledger_entry (supplier_org_id, id);

CREATE FUNCTION ledger_entry_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable (% refused)', TG_OP;
END $$;
CREATE TRIGGER ledger_entry_no_change BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_immutable();

-- Balances per contract, derived from the ledger only.
CREATE VIEW contract_balance AS
SELECT c.id AS contract_id,
       c.currency,
       c.value_cents,
       COALESCE(SUM(CASE WHEN l.direction = 'out' THEN l.amount_cents ELSE -l.amount_cents END), 0)::bigint
           AS paid_cents,
       (c.value_cents - COALESCE(SUM(CASE WHEN l.direction = 'out' THEN l.amount_cents
                                          ELSE -l.amount_cents END), 0))::bigint AS outstanding_cents,
       COUNT(l.id)::integer AS entries
FROM contract c
LEFT JOIN ledger_entry l ON l.contract_id = c.id
GROUP BY c.id, c.currency, c.value_cents;
"""


async def forwards():
    return sql_migration(ID, "payments", DESCRIPTION, SQL)
