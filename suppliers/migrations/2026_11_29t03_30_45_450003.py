"""Tender alerts: a supplier's subscriptions (classification prefixes, regions) and its notifications."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:30:45:450003"
VERSION = "1.38.0"
DESCRIPTION = "suppliers: tender alert subscriptions and notifications"

SQL = r"""
CREATE TABLE alert_subscription (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    supplier_id uuid NOT NULL REFERENCES supplier (organisation_id),
    name text NOT NULL DEFAULT '',
    classification_prefixes text[] NOT NULL DEFAULT '{}',  -- empty: any classification
    region_codes text[] NOT NULL DEFAULT '{}',             -- empty: any region
    email text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_subscription_supplier_idx ON alert_subscription (supplier_id);

-- One notification per subscription and tender, ever: the unique key is what makes redelivered outbox
-- events harmless. The e-mail is claimed ('sending') before it is sent, so it is never sent twice.
CREATE TABLE alert_notification (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id uuid NOT NULL REFERENCES alert_subscription (id),
    supplier_id uuid NOT NULL REFERENCES supplier (organisation_id),
    tender_id uuid NOT NULL,
    title text NOT NULL,
    data jsonb NOT NULL DEFAULT '{}',
    email text NOT NULL,
    email_status varchar(10) NOT NULL DEFAULT 'pending'
        CHECK (email_status IN ('pending', 'sending', 'sent', 'failed')),
    email_attempts integer NOT NULL DEFAULT 0,
    emailed_at timestamptz,
    read_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subscription_id, tender_id)
);
CREATE INDEX alert_notification_supplier_idx ON alert_notification (supplier_id, created_at DESC);
CREATE INDEX alert_notification_unsent_idx ON alert_notification (created_at) WHERE email_status = 'pending';
"""


async def forwards():
    return sql_migration(ID, "suppliers", DESCRIPTION, SQL)
