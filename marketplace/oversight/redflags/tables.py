"""piccolo's view of the red-flag read model (the DDL is SQL in oversight/migrations/2026_12_06t03...; the
read model writes and pages through redflags/queries.py, set-based SQL on a path the bench measures)."""

from piccolo.columns import JSONB, BigInt, BigSerial, Boolean, Bytea, DoublePrecision, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB


class RedflagProcess(Table, tablename="redflag_process", db=DB):
    ocid = Text(primary_key=True, default=None)
    publisher_id = BigInt(default=None)
    hash = Bytea(default=None)
    date = Timestamptz(default=None)
    buyer_id = Text(null=True, default=None)
    buyer_ruc = Varchar(length=11, null=True, default=None)
    region = Varchar(length=2, null=True, default=None)  # ubigeo region (2 digits); none for imported processes
    ratio = DoublePrecision(null=True, default=None)
    ratio_winner = Text(null=True, default=None)
    ratio_runner_up = Text(null=True, default=None)
    parts = JSONB(default=None)
    notes = JSONB(default="[]")
    updated_at = Timestamptz()


# The real key is (publisher_id, kind, key, sub); `publisher_id` stands in for piccolo (one-column keys only).
class RedflagTally(Table, tablename="redflag_tally", db=DB):
    publisher_id = BigInt(primary_key=True, default=None)
    kind = Varchar(length=16, default=None)
    key = Text(default=None)
    sub = Text()
    a = BigInt(default=None)
    b = BigInt(default=None)


class RedflagPublisher(Table, tablename="redflag_publisher", db=DB):
    publisher_id = BigInt(primary_key=True, default=None)
    currency = Text(null=True, default=None)
    meta = JSONB(default="{}")
    fences_at = Timestamptz(null=True, default=None)
    dirty = Boolean(default=True)
    settings_file = Text(null=True, default=None)  # the INI file in REDFLAG_SETTINGS_DIR ('' : Cardinal's defaults)
    settings_hash = Bytea(null=True, default=None)  # digest of those settings as parsed
    ocid_sample = Text(null=True, default=None)  # one of its ocids (settings chosen by ocid prefix)
    rebuild_after = Text(null=True, default=None)  # recomputation under way: the last ocid done


class Redflag(Table, tablename="redflag", db=DB):
    id = BigSerial(primary_key=True)
    code = Varchar(length=16, default=None)
    scope = Varchar(length=16, default=None)
    subject = Text(default=None)
    ocid = Text(null=True, default=None)
    origin = Varchar(length=10, default=None)
    publisher_id = BigInt(default=None)
    buyer_id = Text(null=True, default=None)
    buyer_ruc = Varchar(length=11, null=True, default=None)
    region = Varchar(length=2, null=True, default=None)
    supplier_id = Text(null=True, default=None)
    supplier_ruc = Varchar(length=11, null=True, default=None)
    value = DoublePrecision(default=None)
    evidence = JSONB(default="{}")
    date = Timestamptz(default=None)
    computed_at = Timestamptz()


class RedflagFeed(Table, tablename="redflag_feed", db=DB):
    name = Text(primary_key=True, default=None)
    last_txid = BigInt()
    last_seq = BigInt()
    updated_at = Timestamptz()


TABLES = [RedflagProcess, RedflagTally, RedflagPublisher, Redflag, RedflagFeed]
