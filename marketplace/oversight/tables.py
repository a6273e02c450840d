"""piccolo's view of the oversight tables (the DDL is SQL in migrations/; queries here are raw SQL)."""

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    BigSerial,
    Boolean,
    Bytea,
    ForeignKey,
    Integer,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.column_types import Array
from piccolo.table import Table

from marketplace.core.columns import Char
from marketplace.core.db import DB


class AwardHistory(Table, tablename="award_history", db=DB):
    award_id = UUID(primary_key=True, default=None)
    tender_id = UUID(null=True, default=None)
    lot_id = UUID(null=True, default=None)
    ocid = Text(default=None)
    tender_title = Text(default=None)
    lot_title = Text(default=None)
    agency_id = UUID(null=True, default=None)
    agency_ruc = Varchar(length=11, null=True, default=None)
    agency_name = Text(default=None)
    supplier_id = UUID(null=True, default=None)
    supplier_ruc = Varchar(length=11, null=True, default=None)
    supplier_name = Text(default=None)
    method = Varchar(length=32, default=None)
    category = Varchar(length=16, default=None)
    classification_scheme = Varchar(length=8, default=None)
    classification_code = Varchar(length=16, default=None)
    delivery_ubigeo = Varchar(length=6, null=True, default=None)
    region = Char(length=2, null=True, default=None)
    province = Char(length=4, null=True, default=None)
    value = BigInt(null=True, default=None)  # minor units of `currency`
    currency = Char(length=3, default=None)
    state = Varchar(length=16, default=None)
    awarded_at = Timestamptz(default=None)
    updated_at = Timestamptz()
    publisher = Text(default="mercado-abierto")  # ocds_publisher.slug


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


# --- imported OCDS (migration 2026-12-05; marketplace/oversight/imports) --------------------------------------

class OcdsPublisher(Table, tablename="ocds_publisher", db=DB):
    id = BigSerial(primary_key=True)
    slug = Text(unique=True, default=None)
    name = Text(default=None)
    uri = Text()
    uid = Text()
    ocid_prefixes = Array(base_column=Text())
    own = Boolean()
    feed_url = Text(null=True, default=None)
    feed_kind = Varchar(length=16)
    feed_after_param = Text()
    feed_interval_minutes = Integer(default=60)
    feed_cursor = Text()
    feed_next_at = Timestamptz(null=True, default=None)
    feed_failures = Integer()
    feed_last_error = Text()
    feed_lease_until = Timestamptz(null=True, default=None)
    last_harvest_at = Timestamptz(null=True, default=None)
    last_import_at = Timestamptz(null=True, default=None)
    process_count = BigInt()
    release_count = BigInt()
    created_at = Timestamptz()


class OcdsImportRelease(Table, tablename="ocds_import_release", db=DB):
    id = BigSerial(primary_key=True)
    hash = Bytea(unique=True, default=None)
    publisher_id = ForeignKey(references=OcdsPublisher, null=False)
    ocid = Text(default=None)
    release_id = Text(default=None)
    date = Text(default=None)
    version = Varchar(length=3, default=None)
    tags = Array(base_column=Text(), default=None)
    data = JSONB(default=None)
    imported_at = Timestamptz()


class OcdsCompiled(Table, tablename="ocds_compiled", db=DB):
    # `txid xid8` (the change feed with `seq`) has no piccolo column type; it is read by raw SQL (queries.py)
    # and listed in tests/core/test_tables_drift.py's SQL_ONLY_COLUMNS.
    ocid = Text(primary_key=True, default=None)
    publisher_id = ForeignKey(references=OcdsPublisher, null=False)
    source = Varchar(length=8, default=None)
    hash = Bytea(default=None)
    release_date = Text(default=None)
    version = Varchar(length=3, default=None)
    date = Timestamptz(null=True, default=None)
    buyer_id = Text()
    buyer_name = Text()
    buyer_ruc = Varchar(length=11, null=True, default=None)
    tender_status = Text()
    procurement_method = Text()
    award_count = Integer()
    contract_count = Integer()
    data = JSONB(default=None)
    seq = BigSerial()
    created_at = Timestamptz()
    updated_at = Timestamptz()


class OcdsParty(Table, tablename="ocds_party", db=DB):
    # Primary key (ocid, party_id): piccolo has no composite keys, so `ocid` stands in (query with both).
    ocid = ForeignKey(references=OcdsCompiled, primary_key=True, null=False)
    party_id = Text(default=None)
    name = Text()
    ruc = Varchar(length=11, null=True, default=None)
    roles = Array(base_column=Text())


class OcdsImportRun(Table, tablename="ocds_import_run", db=DB):
    id = BigSerial(primary_key=True)
    origin = Text(default=None)
    publisher_id = ForeignKey(references=OcdsPublisher, null=True)
    started_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    files = Integer()
    releases = BigInt()
    records = BigInt()
    releases_new = BigInt()
    processes_new = BigInt()
    processes_changed = BigInt()
    processes_unchanged = BigInt()
    refused = BigInt()


class OcdsImportSeen(Table, tablename="ocds_import_seen", db=DB):
    # Unlogged scratch: the processes a running import touched (primary key (run_id, ocid) in the migration;
    # `run_id` stands in for piccolo, which has no composite keys).
    run_id = BigInt(primary_key=True, default=None)
    ocid = Text(default=None)
    status = SmallInt(default=None)


# --- oversight over imported compiled releases (migration 2026-12-06) -----------------------------------------

class OcdsStageTime(Table, tablename="ocds_stage_time", db=DB):
    # Primary key (ocid, stage): `ocid` stands in for piccolo (no composite keys).
    ocid = Text(primary_key=True, default=None)
    stage = Varchar(length=16, default=None)
    entered_at = Timestamptz(default=None)
    left_at = Timestamptz(default=None)
    publisher = Text(default=None)
    buyer_id = Text()
    buyer_name = Text()
    agency_id = UUID(null=True, default=None)
    method = Varchar(length=32)


class OversightFeedCursor(Table, tablename="oversight_feed_cursor", db=DB):
    name = Text(primary_key=True, default=None)
    txid = Text(default="0")
    seq = BigInt()
    updated_at = Timestamptz()
