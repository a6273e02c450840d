"""piccolo's view of the contracts tables (the DDL is SQL in migrations/)."""

from piccolo.columns import UUID, BigInt, Date, ForeignKey, Integer, Numeric, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB
from marketplace.core.tables import Organisation, User


class Contract(Table, tablename="contract", db=DB):
    id = UUID(primary_key=True)
    source_type = Text()
    source_id = UUID()
    tender_id = UUID(null=True)
    lot_id = UUID(null=True)
    agency_org = ForeignKey(Organisation, db_column_name="agency_org_id")
    supplier_org = ForeignKey(Organisation, db_column_name="supplier_org_id")
    title = Text()
    currency = Varchar(length=3)
    original_value_cents = BigInt()
    value_cents = BigInt()
    period_start = Date(null=True)
    period_end = Date(null=True)
    state = Text()
    guarantee_kind = Text(null=True)
    guarantee_amount_cents = BigInt(null=True)
    guarantee_issuer = Text(null=True)
    guarantee_reference = Text(null=True)
    guarantee_expires_on = Date(null=True)
    cumulative_change_pct = Numeric(digits=(9, 4))
    signed_at = Timestamptz(null=True)
    signed_by = ForeignKey(User, db_column_name="signed_by", null=True)
    completed_at = Timestamptz(null=True)
    terminated_at = Timestamptz(null=True)
    termination_reason = Text(null=True)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Milestone(Table, tablename="contract_milestone", db=DB):
    id = UUID(primary_key=True)
    contract = ForeignKey(Contract, db_column_name="contract_id")
    seq = Integer()
    deliverable = Text()
    due_date = Date()
    amount_cents = BigInt()
    state = Text()
    accepted_at = Timestamptz(null=True)
    paid_at = Timestamptz(null=True)
    created_at = Timestamptz()


class Amendment(Table, tablename="contract_amendment", db=DB):
    id = UUID(primary_key=True)
    contract = ForeignKey(Contract, db_column_name="contract_id")
    seq = Integer()
    reason = Text()
    value_change_cents = BigInt()
    previous_value_cents = BigInt()
    new_value_cents = BigInt()
    previous_period_end = Date(null=True)
    new_period_end = Date(null=True)
    change_pct = Numeric(digits=(9, 4))
    cumulative_change_pct = Numeric(digits=(9, 4))
    created_by = ForeignKey(User, db_column_name="created_by", null=True)
    created_at = Timestamptz()


class Delivery(Table, tablename="contract_delivery", db=DB):
    id = UUID(primary_key=True)
    contract = ForeignKey(Contract, db_column_name="contract_id")
    milestone = ForeignKey(Milestone, db_column_name="milestone_id")
    note = Text()
    state = Text()
    submitted_by = ForeignKey(User, db_column_name="submitted_by", null=True)
    submitted_at = Timestamptz()
    decided_by = ForeignKey(User, db_column_name="decided_by", null=True)
    decided_at = Timestamptz(null=True)
    decision_note = Text()


class Document(Table, tablename="contract_document", db=DB):
    id = UUID(primary_key=True)
    contract = ForeignKey(Contract, db_column_name="contract_id")
    name = Text()
    media_type = Text()
    sha256 = Varchar(length=64)
    url = Text()
    uploaded_by = ForeignKey(User, db_column_name="uploaded_by", null=True)
    created_at = Timestamptz()
