"""Tables every domain shares: organisations and users, the audit trail, the outbox, idempotency keys.

The DDL is in migrations/ as SQL (constraints, partial indexes and xid8 columns piccolo cannot declare);
these classes describe the same tables for piccolo's queries, column for column (tests/core/test_tables_drift.py
checks them against the migrated database). The xid8 columns (txid), which piccolo has no type for, are read
in SQL only and listed with that reason in the drift test.
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
    kind = Varchar(length=16, default=None)  # agency | supplier | oversight | platform
    ruc = Varchar(length=11, null=True, default=None)
    name = Text(default=None)
    ubigeo = Varchar(length=6, null=True, default=None)
    created_at = Timestamptz()


class User(Table, tablename="app_user", db=DB):
    id = UUID(primary_key=True)
    organisation = ForeignKey(Organisation, db_column_name="organisation_id", null=False)
    email = Text(default=None)
    full_name = Text()
    password_hash = Text(secret=True, default=None)
    roles = Array(base_column=Text())
    locale = Varchar(length=8, default="es")
    active = Boolean(default=True)
    created_at = Timestamptz()
    token_version = Integer(default=0)


class ApiKey(Table, tablename="api_key", db=DB):
    id = UUID(primary_key=True)
    user = ForeignKey(User, db_column_name="user_id", null=False)
    name = Text()
    prefix = Varchar(length=16, default=None)
    secret_hash = Text(secret=True, default=None)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)


class RefreshToken(Table, tablename="refresh_token", db=DB):
    """Refresh tokens, as digests (marketplace.core.auth.refresh)."""

    id = UUID(primary_key=True)
    family_id = UUID(default=None)
    user = ForeignKey(User, db_column_name="user_id", null=False)
    token_hash = Text(secret=True, default=None, unique=True)
    token_version = Integer(default=None)
    issued_at = Timestamptz(default=None)
    expires_at = Timestamptz(default=None)
    spent_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    revoked_reason = Text(null=True, default=None)


class AuditEvent(Table, tablename="audit_event", db=DB):
    id = BigSerial(primary_key=True)
    occurred_at = Timestamptz(default=None)
    actor_user_id = UUID(null=True, default=None)
    actor_org_id = UUID(null=True, default=None)
    action = Text(default=None)
    entity_type = Text(default=None)
    entity_id = Text(default=None)
    data = JSONB()
    seq = BigInt(null=True, default=None)
    prev_hash = Text(null=True, default=None)
    hash = Text(null=True, default=None)


class AuditCheckpoint(Table, tablename="audit_checkpoint", db=DB):
    seq = BigInt(primary_key=True, default=None)
    hash = Text(default=None)
    signed_at = Timestamptz(default=None)
    key_id = Text(default=None)
    signature = Text(default=None)


class Outbox(Table, tablename="outbox", db=DB):
    id = BigSerial(primary_key=True)
    created_at = Timestamptz()
    topic = Text(default=None)
    aggregate_type = Text(default=None)
    aggregate_id = Text(default=None)
    payload = JSONB()


class OutboxCursor(Table, tablename="outbox_cursor", db=DB):
    consumer = Text(primary_key=True, default=None)
    last_id = BigInt()
    updated_at = Timestamptz()
    failures = Integer()
    last_error = Text(null=True, default=None)
    retry_at = Timestamptz(null=True, default=None)


# The real key is (scope, key); piccolo needs a one-column primary key, so `scope` stands in: query with both
# columns in the WHERE clause, never through an object's save() or remove().
class IdempotencyKey(Table, tablename="idempotency_key", db=DB):
    scope = Text(primary_key=True, default=None)
    key = Text(default=None)
    request_hash = Text(default=None)
    status = Integer(default=None)
    response = JSONB(default=None)
    created_at = Timestamptz()
