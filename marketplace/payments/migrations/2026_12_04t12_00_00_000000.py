"""Payments stuck in 'requested': one alarm per payment, raised once, cleared when the payment moves on."""

from marketplace.core.migrate import sql_migration

ID = "2026-12-04T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payments: payment_alarm (payments stuck in 'requested' past PAYMENT_STUCK_MINUTES)"

SQL = r"""
CREATE TABLE payment_alarm (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id uuid NOT NULL UNIQUE REFERENCES payment (id),
    requested_at timestamptz NOT NULL,
    limit_minutes integer NOT NULL CHECK (limit_minutes >= 1),
    raised_at timestamptz NOT NULL,
    cleared_at timestamptz
);
CREATE INDEX payment_alarm_open_idx ON payment_alarm (raised_at) WHERE cleared_at IS NULL;
"""


async def forwards():
    return sql_migration(ID, "payments", DESCRIPTION, SQL)
