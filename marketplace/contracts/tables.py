"""piccolo's view of the contracts tables (the DDL is SQL in migrations/)."""

from piccolo.columns import UUID, BigInt, Date, ForeignKey, Integer, Numeric, Text, Timestamptz
from piccolo.table import Table

from marketplace.core.columns import Char
from marketplace.core.db import DB
from marketplace.core.tables import Organisation, User


class Contract(Table, tablename="contract", db=DB):
    id = UUID(primary_key=True)
    source_type = Text(default=None)
    source_id = UUID(default=None)
    tender_id = UUID(null=True, default=None)
    lot_id = UUID(null=True, default=None)
    agency_org = ForeignKey(Organisation, db_column_name="agency_org_id", null=False)
    supplier_org = ForeignKey(Organisation, db_column_name="supplier_org_id", null=False)
    title = Text(default=None)
    currency = Char(length=3, default="PEN")
    original_value_cents = BigInt(default=None)
    value_cents = BigInt(default=None)
    period_start = Date(null=True, default=None)
    period_end = Date(null=True, default=None)
    state = Text(default="pending")
    guarantee_kind = Text(null=True, default=None)
    guarantee_amount_cents = BigInt(null=True, default=None)
    guarantee_issuer = Text(null=True, default=None)
    guarantee_reference = Text(null=True, default=None)
    guarantee_expires_on = Date(null=True, default=None)
    cumulative_change_pct = Numeric(digits=(9, 4))
    signed_at = Timestamptz(null=True, default=None)
    signed_by = ForeignKey(User, db_column_name="signed_by", null=True)
    completed_at = Timestamptz(null=True, default=None)
    terminated_at = Timestamptz(null=True, default=None)
    termination_reason = Text(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Milestone(Table, tablename="contract_milestone", db=DB):
    id = UUID(primary_key=True)
    contract = ForeignKey(Contract, db_column_name="contract_id", null=False)
    seq = Integer(default=None)
    deliverable = Text(default=None)
    due_date = Date(default=None)
    amount_cents = BigInt(default=None)
    state = Text(default="pending")
    accepted_at = Timestamptz(null=True, default=None)
    paid_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class Amendment(Table, tablename="contract_amendment", db=DB):
    id = UUID(primary_key=True)
    contract = ForeignKey(Contract, db_column_name="contract_id", null=False)
    seq = Integer(default=None)
    reason = Text(default=None)
    value_change_cents = BigInt()
    previous_value_cents = BigInt(default=None)
    new_value_cents = BigInt(default=None)
    previous_period_end = Date(null=True, default=None)
    new_period_end = Date(null=True, default=None)
    change_pct = Numeric(digits=(9, 4), default=None)
    cumulative_change_pct = Numeric(digits=(9, 4), default=None)
    created_by = ForeignKey(User, db_column_name="created_by", null=True)
    created_at = Timestamptz()


class Delivery(Table, tablename="contract_delivery", db=DB):
    id = UUID(primary_key=True)
    contract = ForeignKey(Contract, db_column_name="contract_id", null=False)
    milestone = ForeignKey(Milestone, db_column_name="milestone_id", null=False)
    note = Text()
    state = Text(default="submitted")
    submitted_by = ForeignKey(User, db_column_name="submitted_by", null=True)
    submitted_at = Timestamptz(default=None)
    decided_by = ForeignKey(User, db_column_name="decided_by", null=True)
    decided_at = Timestamptz(null=True, default=None)
    decision_note = Text()


class Document(Table, tablename="contract_document", db=DB):
    id = UUID(primary_key=True)
    contract = ForeignKey(Contract, db_column_name="contract_id", null=False)
    name = Text(default=None)
    media_type = Text(default="application/pdf")
    sha256 = Char(length=64, default=None)
    url = Text()
    uploaded_by = ForeignKey(User, db_column_name="uploaded_by", null=True)
    created_at = Timestamptz()
