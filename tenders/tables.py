"""piccolo's view of the tender tables (the DDL is SQL in migrations/)."""

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    Boolean,
    Bytea,
    ForeignKey,
    Integer,
    Numeric,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from marketplace.core.db import DB
from marketplace.core.tables import Organisation, User


class Tender(Table, tablename="tender", db=DB):
    id = UUID(primary_key=True)
    ocid = Text(unique=True)
    agency = ForeignKey(Organisation, db_column_name="agency_id")
    created_by = ForeignKey(User, db_column_name="created_by", null=True)
    title = Text()
    description = Text()
    method = Varchar(length=32)
    procurement_method = Varchar(length=16)
    category = Varchar(length=16)
    consultancy = Boolean(default=False)
    currency = Varchar(length=3, default="PEN")
    state = Varchar(length=16, default="draft")
    enquiry_end = Timestamptz(null=True, default=None)
    submission_deadline = Timestamptz(null=True, default=None)
    opening_time = Timestamptz(null=True, default=None)
    standstill_days = Integer(default=0)
    published_at = Timestamptz(null=True, default=None)
    opened_at = Timestamptz(null=True, default=None)
    state_changed_at = Timestamptz()
    cancel_reason = Text(null=True, default=None)
    amendment_count = Integer(default=0)
    key_id = Text(null=True, default=None)
    wrapped_key = Bytea(null=True, default=None, secret=True)
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class TenderLot(Table, tablename="tender_lot", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id")
    number = Integer()
    title = Text()
    description = Text()
    estimated_value = BigInt()
    classification_scheme = Varchar(length=8)
    classification_code = Varchar(length=16)
    quantity = Numeric(digits=(18, 3))
    unit = Text()
    delivery_ubigeo = Varchar(length=6)
    state = Varchar(length=16, default="draft")
    state_changed_at = Timestamptz()
    cancel_reason = Text(null=True, default=None)


class TenderDocument(Table, tablename="tender_document", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id")
    document_id = UUID()
    version = Integer()
    lot = ForeignKey(TenderLot, db_column_name="lot_id", null=True)
    title = Text()
    filename = Text()
    media_type = Text()
    size = BigInt()
    sha256 = Varchar(length=64)
    content = Bytea()
    uploaded_by = ForeignKey(User, db_column_name="uploaded_by", null=True)
    uploaded_at = Timestamptz()


class TenderEnquiry(Table, tablename="tender_enquiry", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id")
    number = Integer()
    lot = ForeignKey(TenderLot, db_column_name="lot_id", null=True)
    question = Text()
    asker_org_id = UUID()
    asker_user_id = UUID(null=True)
    asked_at = Timestamptz()
    answer = Text(null=True, default=None)
    answered_by = UUID(null=True)
    answered_at = Timestamptz(null=True, default=None)


class TenderAmendment(Table, tablename="tender_amendment", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id")
    number = Integer()
    reason = Text()
    changes = JSONB()
    material = Boolean()
    deadline_before = Timestamptz(null=True, default=None)
    deadline_after = Timestamptz(null=True, default=None)
    actor_user_id = UUID(null=True)
    actor_org_id = UUID(null=True)
    amended_at = Timestamptz()


class TenderOpening(Table, tablename="tender_opening", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id", primary_key=True)
    opened_at = Timestamptz()
    opened_by = UUID(null=True)
    bid_count = Integer()
    record = JSONB()
