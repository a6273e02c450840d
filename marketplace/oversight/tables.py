"""piccolo's view of the oversight tables (the DDL is SQL in migrations/; queries here are raw SQL)."""

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    Boolean,
    Bytea,
    ForeignKey,
    Integer,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
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


# --- imported OCDS (migration 2026-12-05; marketplace/oversight/imports) --------------------------------------

class OcdsPublisher(Table, tablename="ocds_publisher", db=DB):
    id = BigInt(primary_key=True)
    slug = Text(unique=True)
    name = Text()
    uri = Text()
    uid = Text()
    ocid_prefixes = Array(base_column=Text())
    own = Boolean()
    feed_url = Text(null=True)
    feed_kind = Varchar(length=16)
    feed_after_param = Text()
    feed_interval_minutes = Integer(default=60)
    feed_cursor = Text()
    feed_next_at = Timestamptz(null=True)
    feed_failures = Integer()
    feed_last_error = Text()
    feed_lease_until = Timestamptz(null=True)
    last_harvest_at = Timestamptz(null=True)
    last_import_at = Timestamptz(null=True)
    process_count = BigInt()
    release_count = BigInt()
    created_at = Timestamptz()


class OcdsImportRelease(Table, tablename="ocds_import_release", db=DB):
    id = BigInt(primary_key=True)
    hash = Bytea(unique=True)
    publisher_id = ForeignKey(references=OcdsPublisher, null=False)
    ocid = Text()
    release_id = Text()
    date = Text()
    version = Varchar(length=3)
    tags = Array(base_column=Text())
    data = JSONB()
    imported_at = Timestamptz()


class OcdsCompiled(Table, tablename="ocds_compiled", db=DB):
    # `txid xid8` (the change feed with `seq`) has no piccolo column type; it is read by raw SQL (queries.py).
    ocid = Text(primary_key=True)
    publisher_id = ForeignKey(references=OcdsPublisher, null=False)
    source = Varchar(length=8)
    hash = Bytea()
    release_date = Text()
    version = Varchar(length=3)
    date = Timestamptz(null=True)
    buyer_id = Text()
    buyer_name = Text()
    buyer_ruc = Varchar(length=11, null=True)
    tender_status = Text()
    procurement_method = Text()
    award_count = Integer()
    contract_count = Integer()
    data = JSONB()
    seq = BigInt()
    created_at = Timestamptz()
    updated_at = Timestamptz()


class OcdsParty(Table, tablename="ocds_party", db=DB):
    # Primary key (ocid, party_id): piccolo has no composite keys; the migration declares it.
    ocid = ForeignKey(references=OcdsCompiled, null=False)
    party_id = Text()
    name = Text()
    ruc = Varchar(length=11, null=True)
    roles = Array(base_column=Text())


class OcdsImportRun(Table, tablename="ocds_import_run", db=DB):
    id = BigInt(primary_key=True)
    origin = Text()
    publisher_id = ForeignKey(references=OcdsPublisher, null=True)
    started_at = Timestamptz()
    finished_at = Timestamptz(null=True)
    files = Integer()
    releases = BigInt()
    records = BigInt()
    releases_new = BigInt()
    processes_new = BigInt()
    processes_changed = BigInt()
    processes_unchanged = BigInt()
    refused = BigInt()


class OcdsImportSeen(Table, tablename="ocds_import_seen", db=DB):
    # Unlogged scratch: the processes a running import touched (primary key (run_id, ocid) in the migration).
    run_id = BigInt()
    ocid = Text()
    status = SmallInt()
