"""piccolo's view of the payments tables (the DDL is SQL in migrations/)."""

from piccolo.columns import JSONB, UUID, BigInt, BigSerial, Boolean, ForeignKey, Integer, Text, Timestamptz
from piccolo.table import Table

from marketplace.core.columns import Char
from marketplace.core.db import DB
from marketplace.core.tables import Organisation, User


class Payment(Table, tablename="payment", db=DB):
    id = UUID(primary_key=True)
    kind = Text(default=None)
    method = Text(default=None)
    state = Text(default="requested")
    idempotency_key = Text(default=None)
    attempt = Integer(default=1)
    amount_cents = BigInt(default=None)
    currency = Char(length=3, default=None)
    supplier_org = ForeignKey(Organisation, db_column_name="supplier_org_id", null=False)
    agency_org = ForeignKey(Organisation, db_column_name="agency_org_id", null=True)
    # contract_milestone and contract belong to contracts, a domain beside payments (the layers contract):
    # plain ids here, the database keeps the foreign keys.
    contract = UUID(db_column_name="contract_id", null=True, default=None)
    milestone = UUID(db_column_name="milestone_id", null=True, default=None)
    appeal_id = UUID(null=True, default=None)
    fee_year = Integer(null=True, default=None)
    refund_of = UUID(null=True, default=None)
    stripe_object_id = Text(null=True, default=None)
    stripe_account_id = Text(null=True, default=None)
    client_secret = Text(secret=True, null=True, default=None)
    external_reference = Text(null=True, default=None)
    failure_reason = Text(null=True, default=None)
    requested_by = ForeignKey(User, db_column_name="requested_by", null=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    settled_at = Timestamptz(null=True, default=None)


class StripeEvent(Table, tablename="stripe_event", db=DB):
    id = Text(primary_key=True, default=None)
    type = Text(default=None)
    object_id = Text(null=True, default=None)
    api_created = Timestamptz(null=True, default=None)
    livemode = Boolean()
    payload = JSONB(default=None)
    received_at = Timestamptz()
    applied_at = Timestamptz(null=True, default=None)
    outcome = Text(null=True, default=None)


class ConnectedAccount(Table, tablename="connected_account", db=DB):
    organisation = ForeignKey(Organisation, db_column_name="organisation_id", primary_key=True, null=False)
    stripe_account_id = Text(default=None)
    transfers_enabled = Boolean(default=True)
    updated_at = Timestamptz()


class LedgerEntry(Table, tablename="ledger_entry", db=DB):
    id = BigSerial(primary_key=True)
    occurred_at = Timestamptz(default=None)
    payment = ForeignKey(Payment, db_column_name="payment_id", null=False)
    entry_type = Text(default=None)
    direction = Text(default=None)
    amount_cents = BigInt(default=None)
    currency = Char(length=3, default=None)
    supplier_org = ForeignKey(Organisation, db_column_name="supplier_org_id", null=False)
    # contract_milestone and contract belong to contracts, a domain beside payments (the layers contract):
    # plain ids here, the database keeps the foreign keys.
    contract = UUID(db_column_name="contract_id", null=True, default=None)
    milestone = UUID(db_column_name="milestone_id", null=True, default=None)
    appeal_id = UUID(null=True, default=None)
    fee_year = Integer(null=True, default=None)
    reference = Text()


class PaymentAlarm(Table, tablename="payment_alarm", db=DB):
    """A payment stuck in 'requested' past PAYMENT_STUCK_MINUTES: one per payment, cleared when it moves on
    (raised and cleared in SQL, payments/queries.py)."""

    id = BigSerial(primary_key=True)
    payment = ForeignKey(Payment, db_column_name="payment_id", null=False, unique=True)
    requested_at = Timestamptz(default=None)
    limit_minutes = Integer(default=None)
    raised_at = Timestamptz(default=None)
    cleared_at = Timestamptz(null=True, default=None)
