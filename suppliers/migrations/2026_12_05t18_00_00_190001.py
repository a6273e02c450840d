"""Bidder notices through the alert notifications: what concerns a supplier's bids (an amendment, an answer, the
opening, the award, an appeal) is a notification too, listed and mailed like the tender alerts.

A notice has no subscription; `kind` says what it is and `event_key` (the outbox event it comes from) makes it
once per supplier however often the event is delivered. 'none' is the mail status of a notice for a supplier
with no address to write to.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-05T18:00:00:190001"
VERSION = "1.38.0"
DESCRIPTION = "suppliers: alert_notification.kind and event_key (bidder notices)"

SQL = r"""
ALTER TABLE alert_notification ALTER COLUMN subscription_id DROP NOT NULL;
ALTER TABLE alert_notification ADD COLUMN kind varchar(24) NOT NULL DEFAULT 'tender_published';
ALTER TABLE alert_notification ADD COLUMN event_key text;
ALTER TABLE alert_notification ADD CONSTRAINT alert_notification_source_check
    CHECK ((kind = 'tender_published') = (subscription_id IS NOT NULL)
           AND (event_key IS NULL) = (subscription_id IS NOT NULL));
CREATE UNIQUE INDEX alert_notification_event_idx ON alert_notification (supplier_id, event_key)
    WHERE event_key IS NOT NULL;
ALTER TABLE alert_notification DROP CONSTRAINT alert_notification_email_status_check;
ALTER TABLE alert_notification ADD CONSTRAINT alert_notification_email_status_check
    CHECK (email_status IN ('pending', 'sending', 'sent', 'failed', 'none'));
"""


async def forwards():
    return sql_migration(ID, "suppliers", DESCRIPTION, SQL)
