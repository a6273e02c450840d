"""piccolo's view of the payments tables (the DDL is SQL in migrations/)."""

from piccolo.columns import JSONB, UUID, BigInt, BigSerial, Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.contracts.tables import Contract, Milestone
from marketplace.core.db import DB
from marketplace.core.tables import Organisation, User


class Payment(Table, tablename="payment", db=DB):
    id = UUID(primary_key=True)
    kind = Text()
    method = Text()
    state = Text()
    idempotency_key = Text()
    attempt = Integer()
    amount_cents = BigInt()
    currency = Varchar(length=3)
    supplier_org = ForeignKey(Organisation, db_column_name="supplier_org_id")
    agency_org = ForeignKey(Organisation, db_column_name="agency_org_id", null=True)
    contract = ForeignKey(Contract, db_column_name="contract_id", null=True)
    milestone = ForeignKey(Milestone, db_column_name="milestone_id", null=True)
    appeal_id = UUID(null=True)
    fee_year = Integer(null=True)
    refund_of = UUID(null=True)
    stripe_object_id = Text(null=True)
    stripe_account_id = Text(null=True)
    client_secret = Text(null=True, secret=True)
    external_reference = Text(null=True)
    failure_reason = Text(null=True)
    requested_by = ForeignKey(User, db_column_name="requested_by", null=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    settled_at = Timestamptz(null=True)


class StripeEvent(Table, tablename="stripe_event", db=DB):
    id = Text(primary_key=True)
    type = Text()
    object_id = Text(null=True)
    api_created = Timestamptz(null=True)
    livemode = Boolean()
    payload = JSONB()
    received_at = Timestamptz()
    applied_at = Timestamptz(null=True)
    outcome = Text(null=True)


class ConnectedAccount(Table, tablename="connected_account", db=DB):
    organisation = ForeignKey(Organisation, db_column_name="organisation_id", primary_key=True)
    stripe_account_id = Text()
    transfers_enabled = Boolean(default=True)
    updated_at = Timestamptz()


class LedgerEntry(Table, tablename="ledger_entry", db=DB):
    id = BigSerial(primary_key=True)
    occurred_at = Timestamptz()
    payment = ForeignKey(Payment, db_column_name="payment_id")
    entry_type = Text()
    direction = Text()
    amount_cents = BigInt()
    currency = Varchar(length=3)
    supplier_org = ForeignKey(Organisation, db_column_name="supplier_org_id")
    contract = ForeignKey(Contract, db_column_name="contract_id", null=True)
    milestone = ForeignKey(Milestone, db_column_name="milestone_id", null=True)
    appeal_id = UUID(null=True)
    fee_year = Integer(null=True)
    reference = Text()
