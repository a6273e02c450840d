"""Outbox consumers that fail: count the failures, keep the last error, back off before the next try."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T02:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "core: outbox consumer failures and back-off"

SQL = r"""
ALTER TABLE outbox_cursor
    ADD COLUMN failures integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text,
    ADD COLUMN retry_at timestamptz;
"""


async def forwards():
    return sql_migration(ID, "core", DESCRIPTION, SQL)
