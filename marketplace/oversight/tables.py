"""piccolo's view of the oversight tables (the DDL is SQL in migrations/; queries here are raw SQL)."""

from piccolo.columns import JSONB, UUID, BigInt, BigSerial, Integer, Text, Timestamptz, Varchar
from piccolo.columns.column_types import Array
from piccolo.table import Table

from marketplace.core.columns import Char
from marketplace.core.db import DB


class AwardHistory(Table, tablename="award_history", db=DB):
    award_id = UUID(primary_key=True, default=None)
    tender_id = UUID(default=None)
    lot_id = UUID(default=None)
    ocid = Text(default=None)
    tender_title = Text(default=None)
    lot_title = Text(default=None)
    agency_id = UUID(default=None)
    agency_ruc = Varchar(length=11, null=True, default=None)
    agency_name = Text(default=None)
    supplier_id = UUID(default=None)
    supplier_ruc = Varchar(length=11, null=True, default=None)
    supplier_name = Text(default=None)
    method = Varchar(length=32, default=None)
    category = Varchar(length=16, default=None)
    classification_scheme = Varchar(length=8, default=None)
    classification_code = Varchar(length=16, default=None)
    delivery_ubigeo = Varchar(length=6, default=None)
    region = Char(length=2, default=None)
    province = Char(length=4, default=None)
    value = BigInt(default=None)
    currency = Char(length=3, default=None)
    state = Varchar(length=16, default=None)
    awarded_at = Timestamptz(default=None)
    updated_at = Timestamptz()


class OcdsRelease(Table, tablename="ocds_release", db=DB):
    seq = BigSerial(primary_key=True)
    release_id = Text(unique=True, default=None)
    ocid = Text(default=None)
    tender_id = UUID(default=None)
    tags = Array(base_column=Text(), default=None)
    date = Timestamptz(default=None)
    source_event = BigInt(default=None)
    data = JSONB(default=None)
    published_at = Timestamptz()


# The real key is (tender_id, stage, entered_at); `tender_id` stands in for piccolo (a one-column primary key).
class TenderStage(Table, tablename="tender_stage", db=DB):
    tender_id = UUID(primary_key=True, default=None)
    stage = Varchar(length=16, default=None)
    entered_at = Timestamptz(default=None)
    left_at = Timestamptz(null=True, default=None)
    agency_id = UUID(default=None)
    method = Varchar(length=32, default=None)


class StageAlarm(Table, tablename="stage_alarm", db=DB):
    id = BigSerial(primary_key=True)
    tender_id = UUID(default=None)
    stage = Varchar(length=16, default=None)
    entered_at = Timestamptz(default=None)
    agency_id = UUID(default=None)
    limit_days = Integer(default=None)
    raised_at = Timestamptz(default=None)
    cleared_at = Timestamptz(null=True, default=None)


class AgencyNotification(Table, tablename="agency_notification", db=DB):
    id = BigSerial(primary_key=True)
    agency_id = UUID(default=None)
    kind = Text(default=None)
    dedupe_key = Text(unique=True, default=None)
    subject = Text(default=None)
    data = JSONB()
    created_at = Timestamptz(default=None)
    read_at = Timestamptz(null=True, default=None)
