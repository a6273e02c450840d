"""piccolo's view of the oversight tables (the DDL is SQL in migrations/; queries here are raw SQL)."""

from piccolo.columns import JSONB, UUID, BigInt, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.column_types import Array
from piccolo.table import Table

from marketplace.core.db import DB


class AwardHistory(Table, tablename="award_history", db=DB):
    award_id = UUID(primary_key=True)
    tender_id = UUID()
    lot_id = UUID()
    ocid = Text()
    tender_title = Text()
    lot_title = Text()
    agency_id = UUID()
    agency_ruc = Varchar(length=11, null=True)
    agency_name = Text()
    supplier_id = UUID()
    supplier_ruc = Varchar(length=11, null=True)
    supplier_name = Text()
    method = Varchar(length=32)
    category = Varchar(length=16)
    classification_scheme = Varchar(length=8)
    classification_code = Varchar(length=16)
    delivery_ubigeo = Varchar(length=6)
    region = Varchar(length=2)
    province = Varchar(length=4)
    value = BigInt()
    currency = Varchar(length=3)
    state = Varchar(length=16)
    awarded_at = Timestamptz()
    updated_at = Timestamptz()


class OcdsRelease(Table, tablename="ocds_release", db=DB):
    seq = Serial(primary_key=True)
    release_id = Text(unique=True)
    ocid = Text()
    tender_id = UUID()
    tags = Array(base_column=Text())
    date = Timestamptz()
    source_event = BigInt()
    data = JSONB()
    published_at = Timestamptz()


class TenderStage(Table, tablename="tender_stage", db=DB):
    tender_id = UUID()
    stage = Varchar(length=16)
    entered_at = Timestamptz()
    left_at = Timestamptz(null=True)
    agency_id = UUID()
    method = Varchar(length=32)


class StageAlarm(Table, tablename="stage_alarm", db=DB):
    id = Serial(primary_key=True)
    tender_id = UUID()
    stage = Varchar(length=16)
    entered_at = Timestamptz()
    agency_id = UUID()
    limit_days = Integer()
    raised_at = Timestamptz()
    cleared_at = Timestamptz(null=True)


class AgencyNotification(Table, tablename="agency_notification", db=DB):
    id = Serial(primary_key=True)
    agency_id = UUID()
    kind = Text()
    dedupe_key = Text(unique=True)
    subject = Text()
    data = JSONB()
    created_at = Timestamptz()
    read_at = Timestamptz(null=True)
