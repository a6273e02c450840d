"""Core schema: organisations, users, API keys, audit trail, outbox, idempotency keys."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T02:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "core: identity, audit, outbox, idempotency"

SQL = r"""
-- gen_random_uuid() is built in since PostgreSQL 13 (no pgcrypto: the embedded server does not ship it).

CREATE TABLE organisation (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind varchar(16) NOT NULL CHECK (kind IN ('agency', 'supplier', 'oversight', 'platform')),
    ruc varchar(11) UNIQUE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    ubigeo varchar(6) CHECK (ubigeo ~ '^[0-9]{6}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app_user (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organisation_id uuid NOT NULL REFERENCES organisation (id),
    email text NOT NULL,
    full_name text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    roles text[] NOT NULL DEFAULT '{}',
    locale varchar(8) NOT NULL DEFAULT 'es',
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX app_user_email_key ON app_user (lower(email));
CREATE INDEX app_user_organisation_idx ON app_user (organisation_id);

CREATE TABLE api_key (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES app_user (id),
    name text NOT NULL DEFAULT '',
    prefix varchar(16) NOT NULL UNIQUE,
    secret_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_key_user_idx ON api_key (user_id);

-- Audit trail. Writers only INSERT (no shared row, no lock: concurrent writers never wait on each
-- other). The chainer job later gives committed events a gap-free seq in (txid, id) order and links
-- them in a hash chain; see marketplace/core/audit.py.
CREATE TABLE audit_event (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    occurred_at timestamptz NOT NULL,
    actor_user_id uuid,
    actor_org_id uuid,
    action text NOT NULL,
    entity_type text NOT NULL,
    entity_id text NOT NULL,
    data jsonb NOT NULL DEFAULT '{}',
    seq bigint UNIQUE,
    prev_hash text,
    hash text
);
CREATE INDEX audit_event_unchained_idx ON audit_event (txid, id) WHERE seq IS NULL;
CREATE INDEX audit_event_entity_idx ON audit_event (entity_type, entity_id, id);

-- Once chained, an event is frozen; events are never deleted.
CREATE FUNCTION audit_event_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit events cannot be deleted';
    END IF;
    IF OLD.seq IS NOT NULL
       OR NEW.occurred_at IS DISTINCT FROM OLD.occurred_at
       OR NEW.actor_user_id IS DISTINCT FROM OLD.actor_user_id
       OR NEW.actor_org_id IS DISTINCT FROM OLD.actor_org_id
       OR NEW.action IS DISTINCT FROM OLD.action
       OR NEW.entity_type IS DISTINCT FROM OLD.entity_type
       OR NEW.entity_id IS DISTINCT FROM OLD.entity_id
       OR NEW.data IS DISTINCT FROM OLD.data
       OR NEW.txid IS DISTINCT FROM OLD.txid THEN
        RAISE EXCEPTION 'audit events are immutable';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_event_immutable BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_guard();

CREATE TABLE audit_checkpoint (
    seq bigint PRIMARY KEY,
    hash text NOT NULL,
    signed_at timestamptz NOT NULL,
    key_id text NOT NULL,
    signature text NOT NULL
);

-- Outbox: an append-only log written in the domain transaction. Consumers read it in (txid, id) order
-- below the oldest running transaction (the watermark), so a row that commits late is never skipped.
CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at timestamptz NOT NULL DEFAULT now(),
    topic text NOT NULL,
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX outbox_order_idx ON outbox (txid, id);

CREATE TABLE outbox_cursor (
    consumer text PRIMARY KEY,
    last_txid xid8 NOT NULL DEFAULT '0'::xid8,
    last_id bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE idempotency_key (
    scope text NOT NULL,
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash text NOT NULL,
    status integer NOT NULL,
    response jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
"""


async def forwards():
    return sql_migration(ID, "core", DESCRIPTION, SQL)
