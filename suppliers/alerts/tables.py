"""piccolo's view of the tender alert tables (the DDL is SQL in suppliers/migrations/)."""

from piccolo.columns import JSONB, UUID, Array, Boolean, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB


class AlertSubscription(Table, tablename="alert_subscription", db=DB):
    id = UUID(primary_key=True)
    supplier_id = UUID()
    name = Text()
    classification_prefixes = Array(base_column=Text())
    region_codes = Array(base_column=Text())
    email = Text()
    active = Boolean()
    created_at = Timestamptz()


class AlertNotification(Table, tablename="alert_notification", db=DB):
    id = UUID(primary_key=True)
    subscription_id = UUID()
    supplier_id = UUID()
    tender_id = UUID()
    title = Text()
    data = JSONB()
    email = Text()
    email_status = Varchar(length=10)  # pending | sending | sent | failed
    email_attempts = Integer()
    emailed_at = Timestamptz(null=True, default=None)
    claimed_at = Timestamptz(null=True, default=None)
    read_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


TABLES = [AlertSubscription, AlertNotification]
