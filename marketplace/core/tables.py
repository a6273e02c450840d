"""Tables every domain shares: organisations and users, the audit trail, the outbox, idempotency keys.

The DDL is in migrations/ as SQL (constraints, partial indexes and xid8 columns piccolo cannot declare);
these classes are piccolo's view of the same tables for queries. Columns that only SQL reads (txid) are
left out here.
"""

from piccolo.columns import (
    JSONB,
    UUID,
    Array,
    BigInt,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from marketplace.core.db import DB


class Organisation(Table, tablename="organisation", db=DB):
    id = UUID(primary_key=True)
    kind = Varchar(length=16)  # agency | supplier | oversight | platform
    ruc = Varchar(length=11, null=True)
    name = Text()
    ubigeo = Varchar(length=6, null=True)
    created_at = Timestamptz()


class User(Table, tablename="app_user", db=DB):
    id = UUID(primary_key=True)
    organisation = ForeignKey(Organisation, db_column_name="organisation_id")
    email = Text()
    full_name = Text()
    password_hash = Text(secret=True)
    roles = Array(base_column=Text())
    locale = Varchar(length=8)
    active = Boolean(default=True)
    created_at = Timestamptz()


class ApiKey(Table, tablename="api_key", db=DB):
    id = UUID(primary_key=True)
    user = ForeignKey(User, db_column_name="user_id")
    name = Text()
    prefix = Varchar(length=16)
    secret_hash = Text(secret=True)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)


class AuditEvent(Table, tablename="audit_event", db=DB):
    id = BigSerial(primary_key=True)
    occurred_at = Timestamptz()
    actor_user_id = UUID(null=True)
    actor_org_id = UUID(null=True)
    action = Text()
    entity_type = Text()
    entity_id = Text()
    data = JSONB()
    seq = BigInt(null=True)
    prev_hash = Text(null=True)
    hash = Text(null=True)


class AuditCheckpoint(Table, tablename="audit_checkpoint", db=DB):
    seq = BigInt(primary_key=True)
    hash = Text()
    signed_at = Timestamptz()
    key_id = Text()
    signature = Text()


class Outbox(Table, tablename="outbox", db=DB):
    id = BigSerial(primary_key=True)
    created_at = Timestamptz()
    topic = Text()
    aggregate_type = Text()
    aggregate_id = Text()
    payload = JSONB()


class OutboxCursor(Table, tablename="outbox_cursor", db=DB):
    consumer = Text(primary_key=True)
    last_id = BigInt()
    updated_at = Timestamptz()


class IdempotencyKey(Table, tablename="idempotency_key", db=DB):
    scope = Text()
    key = Text()
    request_hash = Text()
    status = Integer()
    response = JSONB()
    created_at = Timestamptz()
