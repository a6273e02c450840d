"""Alert e-mails: when a mail was claimed, so that a claim left by a killed worker can be taken again."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-30T03:15:00:160001"
VERSION = "1.38.0"
DESCRIPTION = "suppliers: alert_notification.claimed_at (stale 'sending' claims are re-claimed)"

SQL = r"""
ALTER TABLE alert_notification ADD COLUMN claimed_at timestamptz;
CREATE INDEX alert_notification_sending_idx ON alert_notification (claimed_at) WHERE email_status = 'sending';
"""


async def forwards():
    return sql_migration(ID, "suppliers", DESCRIPTION, SQL)
