"""The tender alert tables, column for column as suppliers/migrations/ makes them
(tests/core/test_tables_drift.py checks)."""

from piccolo.columns import JSONB, UUID, Array, Boolean, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB


class AlertSubscription(Table, tablename="alert_subscription", db=DB):
    id = UUID(primary_key=True)
    supplier_id = UUID(default=None)
    name = Text()
    classification_prefixes = Array(base_column=Text())
    region_codes = Array(base_column=Text())
    email = Text(default=None)
    active = Boolean(default=True)
    created_at = Timestamptz()


class AlertNotification(Table, tablename="alert_notification", db=DB):
    id = UUID(primary_key=True)
    subscription_id = UUID(null=True, default=None)  # None for a bidder notice
    supplier_id = UUID(default=None)
    tender_id = UUID(default=None)
    title = Text(default=None)
    data = JSONB()
    email = Text(default=None)
    email_status = Varchar(length=10, default="pending")  # pending | sending | sent | failed | none (no address)
    email_attempts = Integer()
    emailed_at = Timestamptz(null=True, default=None)
    claimed_at = Timestamptz(null=True, default=None)
    read_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    kind = Varchar(length=24, default="tender_published")  # or a bidder notice's kind (alerts.service.NOTICE_KINDS)
    event_key = Text(null=True, default=None)  # a bidder notice's source event: one notice per supplier and event


TABLES = [AlertSubscription, AlertNotification]
