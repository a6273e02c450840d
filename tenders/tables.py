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

from marketplace.core.columns import Char
from marketplace.core.db import DB
from marketplace.core.tables import Organisation, User


class Tender(Table, tablename="tender", db=DB):
    id = UUID(primary_key=True)
    ocid = Text(unique=True, default=None)
    agency = ForeignKey(Organisation, db_column_name="agency_id", null=False)
    created_by = ForeignKey(User, db_column_name="created_by", null=True)
    title = Text(default=None)
    description = Text()
    method = Varchar(length=32, default=None)
    procurement_method = Varchar(length=16, default=None)
    category = Varchar(length=16, default=None)
    consultancy = Boolean(default=False)
    currency = Char(length=3, default="PEN")
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
    wrapped_key = Bytea(secret=True, null=True, default=None)
    opening_quorum = Integer(null=True, default=None)  # NULL: the OPENING_QUORUM setting
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class TenderLot(Table, tablename="tender_lot", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    number = Integer(default=None)
    title = Text(default=None)
    description = Text()
    estimated_value = BigInt(default=None)
    classification_scheme = Varchar(length=8, default=None)
    classification_code = Varchar(length=16, default=None)
    quantity = Numeric(digits=(18, 3), default=None)
    unit = Text(default=None)
    delivery_ubigeo = Varchar(length=6, default=None)
    state = Varchar(length=16, default="draft")
    state_changed_at = Timestamptz()
    cancel_reason = Text(null=True, default=None)


class TenderDocument(Table, tablename="tender_document", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    document_id = UUID(default=None)
    version = Integer(default=None)
    lot = ForeignKey(TenderLot, db_column_name="lot_id", null=True)
    title = Text(default=None)
    filename = Text(default=None)
    media_type = Text(default=None)
    size = BigInt(default=None)
    sha256 = Char(length=64, default=None)
    content = Bytea(default=None)
    uploaded_by = ForeignKey(User, db_column_name="uploaded_by", null=True)
    uploaded_at = Timestamptz()


class TenderEnquiry(Table, tablename="tender_enquiry", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    number = Integer(default=None)
    lot = ForeignKey(TenderLot, db_column_name="lot_id", null=True)
    question = Text(default=None)
    asker_org_id = UUID(default=None)
    asker_user_id = UUID(null=True, default=None)
    asked_at = Timestamptz(default=None)
    answer = Text(null=True, default=None)
    answered_by = UUID(null=True, default=None)
    answered_at = Timestamptz(null=True, default=None)


class TenderEnquiryAnswer(Table, tablename="tender_enquiry_answer", db=DB):
    """Every published answer to an enquiry; a later number corrects the one before (never updated)."""

    id = UUID(primary_key=True)
    enquiry = ForeignKey(TenderEnquiry, db_column_name="enquiry_id", null=False)
    number = Integer(default=None)
    answer = Text(default=None)
    answered_by = UUID(null=True, default=None)
    answered_at = Timestamptz(default=None)


class TenderInvitation(Table, tablename="tender_invitation", db=DB):
    """A supplier invited to a price comparison (tenders/invitations.py)."""

    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    supplier = ForeignKey(Organisation, db_column_name="supplier_id", null=False)
    invited_by = UUID(null=True, default=None)
    invited_at = Timestamptz(default=None)


class TenderAmendment(Table, tablename="tender_amendment", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    number = Integer(default=None)
    reason = Text(default=None)
    changes = JSONB(default=None)
    material = Boolean(default=None)
    deadline_before = Timestamptz(null=True, default=None)
    deadline_after = Timestamptz(null=True, default=None)
    actor_user_id = UUID(null=True, default=None)
    actor_org_id = UUID(null=True, default=None)
    amended_at = Timestamptz(default=None)


class TenderOpening(Table, tablename="tender_opening", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id", primary_key=True, null=False)
    opened_at = Timestamptz(default=None)
    opened_by = UUID(null=True, default=None)
    bid_count = Integer(default=None)
    record = JSONB(default=None)


# The real key is (tender_id, user_id): one confirmation of the opening per person (renewed when given again).
class TenderOpeningConfirmation(Table, tablename="tender_opening_confirmation", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id", primary_key=True, null=False)
    user = ForeignKey(User, db_column_name="user_id", null=False)
    confirmed_at = Timestamptz(default=None)
