"""The piccolo Tables against the migrated database: they must never drift apart.

The migrations (SQL) make the schema; the Table classes in each domain's tables.py are what the code reads
and writes through. This test builds the database by running every migration (the session's `database`
fixture), then, for every Table of every app in piccolo's app registry (marketplace/piccolo_conf.py),
compares each column with what PostgreSQL reports in pg_catalog:

- the column exists, with the same type (varchar length, numeric precision and scale, arrays, jsonb, uuid,
  timestamptz, bigint, ...), the same nullability and the same default: piccolo sends every column of a
  row it inserts, its own default included, so a Table default that differs from the database's (`''` for a
  column the database leaves without one, 0 for an identity column) would be written silently;
- every column of the table is declared, or listed in SQL_ONLY_COLUMNS with the reason piccolo cannot;
- every table of the database belongs to a Table, or is listed in SQL_ONLY_TABLES with its reason;
- the Table's primary key is (part of) the table's primary key.

How to add a column: README, "Adding a column".
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

import asyncpg
import pytest
from piccolo.columns import (
    JSON,
    JSONB,
    UUID,
    Array,
    BigInt,
    BigSerial,
    Boolean,
    Bytea,
    Column,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Interval,
    Numeric,
    Real,
    Serial,
    SmallInt,
    Text,
    Time,
    Timestamp,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.base import Default
from piccolo.table import Table

from marketplace.core.columns import Char
from marketplace.core.db import DB
from marketplace.piccolo_conf import APP_REGISTRY

# Columns the database has and no Table declares, each with the reason piccolo cannot.
SQL_ONLY_COLUMNS: dict[tuple[str, str], str] = {
    ("audit_event", "txid"): "xid8 (pg_current_xact_id()), which piccolo has no column type for; the audit "
                             "chainer reads it in SQL to order events by commit",
    ("outbox", "txid"): "xid8 (pg_current_xact_id()), which piccolo has no column type for; the outbox drain "
                        "reads it in SQL for its commit-order watermark",
    ("outbox_cursor", "last_txid"): "xid8, the drain's watermark, written and compared in SQL only",
    ("ocds_release", "txid"): "xid8 (pg_current_xact_id()): the release feed pages by commit order in SQL",
    ("ocds_compiled", "txid"): "xid8 (pg_current_xact_id()): the compiled feed pages by commit order in SQL",
    ("search_offer", "tsv"): "tsvector GENERATED from `doc`: piccolo has no tsvector type and must never write "
                             "a generated column; the PostgreSQL search backend reads it in SQL",
    ("search_offer", "name_tsv"): "tsvector GENERATED from `doc` (see search_offer.tsv)",
    ("search_tender", "tsv"): "tsvector GENERATED from `doc` (see search_offer.tsv)",
    ("search_tender", "name_tsv"): "tsvector GENERATED from `doc` (see search_offer.tsv)",
}
# Tables of the database no Table describes, each with its reason.
SQL_ONLY_TABLES: dict[str, str] = {
    "migration": "piccolo's own record of the migrations applied (piccolo's Migration table)",
}

# The type PostgreSQL reports (format_type) for each piccolo column class.
_TYPES: dict[type[Column], str] = {
    Text: "text", UUID: "uuid", Boolean: "boolean", Integer: "integer", Serial: "integer", BigInt: "bigint",
    BigSerial: "bigint", SmallInt: "smallint", Real: "real", DoublePrecision: "double precision",
    Timestamptz: "timestamp with time zone", Timestamp: "timestamp without time zone", Date: "date",
    Time: "time without time zone", Interval: "interval", JSONB: "jsonb", JSON: "json", Bytea: "bytea",
}
# Defaults that make a fresh value each time, as the database writes them and as piccolo does.
_NOW = {"now()", "current_timestamp", "statement_timestamp()", "transaction_timestamp()", "localtimestamp"}
_TODAY = {"current_date", "(current_date)"}
_FRESH_UUID = {"gen_random_uuid()", "uuid_generate_v4()", "uuidv4()", "uuidv7()"}


def registered_tables() -> list[type[Table]]:
    """Every Table of every app in piccolo's registry (piccolo_conf), in app order."""
    seen: dict[str, type[Table]] = {}
    for app in APP_REGISTRY.app_configs.values():
        for table in app.table_classes:
            seen.setdefault(f"{table.__module__}.{table.__name__}", table)
    return list(seen.values())


def _all_subclasses(cls: type[Table]) -> Iterable[type[Table]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def pg_type(column: Column) -> str:
    """The type PostgreSQL reports for a column piccolo declares like this."""
    if isinstance(column, ForeignKey):
        return pg_type(column._foreign_key_meta.resolved_target_column)
    if isinstance(column, Array):
        return pg_type(column.base_column) + "[]"
    if isinstance(column, Char):
        return f"character({column.length})"
    if isinstance(column, Varchar):
        return f"character varying({column.length})" if column.length else "character varying"
    if isinstance(column, Numeric):
        digits = column.digits
        return f"numeric({digits[0]},{digits[1]})" if digits else "numeric"
    for cls in type(column).__mro__:
        if cls in _TYPES:
            return _TYPES[cls]
    raise AssertionError(f"no PostgreSQL type known for piccolo's {type(column).__name__}: add it to _TYPES")


def _kind(sql: str | None) -> tuple[str, str | None]:
    """What a default expression does: ('null'), ('identity'), ('now'), ('today'), ('fresh uuid') or
    ('value', sql) for a constant to be compared in PostgreSQL."""
    if sql is None or sql.strip().lower() in ("null", "null::text"):
        return ("null", None)
    text = sql.strip().lower()
    if text.startswith("nextval("):
        return ("identity", None)
    if text in _NOW or text.startswith("now()"):
        return ("now", None)
    if text in _TODAY:
        return ("today", None)
    if text in _FRESH_UUID:
        return ("fresh uuid", None)
    return ("value", sql)


def piccolo_default(column: Column) -> tuple[str, str | None]:
    """The default a piccolo column writes, in the terms of `_kind`."""
    if isinstance(column, (Serial, BigSerial)):
        return ("identity", None)
    default = column.default
    if isinstance(default, Enum):
        default = default.value
    if isinstance(default, Default):
        return _kind(default.postgres)
    value = default() if callable(default) else default
    if value is None:
        return ("null", None)
    if callable(default) and isinstance(value, uuid.UUID):
        return ("fresh uuid", None)
    if callable(default) and isinstance(value, datetime):
        return ("now", None)
    if isinstance(column, (JSON, JSONB)):
        text = value if isinstance(value, str) else json.dumps(value)
        return ("value", "'" + text.replace("'", "''") + "'")
    if isinstance(value, bytes):
        return ("value", "'\\x" + value.hex() + "'")
    if isinstance(value, (date, Decimal, uuid.UUID, str, bool, int, float, list)):
        return ("value", column.get_sql_value(value))
    raise AssertionError(f"cannot compare the default {value!r} of {column}")


_COLUMNS_SQL = """
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS default, a.attidentity <> '' AS identity, a.attgenerated <> '' AS generated,
       coalesce(a.attnum = ANY (i.indkey), false) AS in_primary_key
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE n.nspname = 'public' AND c.relname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


async def drift(conn: asyncpg.Connection, table: type[Table]) -> list[str]:
    """Every difference between a Table and its table in the database, one line each, naming the table, the
    column and what differs."""
    name = table._meta.tablename
    rows = {r["name"]: r for r in await conn.fetch(_COLUMNS_SQL, name)}
    if not rows:
        return [f"{name}: {table.__module__}.{table.__name__} declares it, the database has no such table"]
    problems: list[str] = []
    declared: set[str] = set()
    for column in table._meta.columns:
        col = column._meta.db_column_name
        declared.add(col)
        where = f"{name}.{col}"
        row = rows.get(col)
        if row is None:
            problems.append(f"{where}: declared by {table.__name__}, missing from the database")
            continue
        expected = pg_type(column)
        if expected != row["type"]:
            problems.append(f"{where}: type: Table says {expected}, database has {row['type']}")
        if column._meta.null != row["nullable"]:
            problems.append(f"{where}: nullability: Table says {'NULL' if column._meta.null else 'NOT NULL'}, "
                            f"database has {'NULL' if row['nullable'] else 'NOT NULL'}")
        if column._meta.primary_key and not row["in_primary_key"]:
            problems.append(f"{where}: primary key: Table says it is, database's primary key does not include it")
        if row["generated"]:
            problems.append(f"{where}: a generated column piccolo would write to: list it in SQL_ONLY_COLUMNS")
            continue
        mine = piccolo_default(column)
        theirs = ("identity", None) if row["identity"] else _kind(row["default"])
        if mine[0] != theirs[0]:
            problems.append(f"{where}: default: Table says {_show(mine)}, database has {_show(theirs)}")
        elif mine[0] == "value" and not await conn.fetchval(
                f"SELECT ({mine[1]})::{row['type']} IS NOT DISTINCT FROM ({theirs[1]})::{row['type']}"):
            problems.append(f"{where}: default: Table says {mine[1]}, database has {theirs[1]}")
    for col in rows:
        if col not in declared and (name, col) not in SQL_ONLY_COLUMNS:
            problems.append(f"{name}.{col}: in the database ({rows[col]['type']}), not declared by {table.__name__}"
                            " (declare it, or list it in SQL_ONLY_COLUMNS with the reason)")
    for (t, col) in SQL_ONLY_COLUMNS:
        if t == name and col in declared:
            problems.append(f"{name}.{col}: declared by {table.__name__} and listed in SQL_ONLY_COLUMNS")
    return problems


def _show(kind: tuple[str, str | None]) -> str:
    return {"null": "no default (NULL)", "identity": "an identity/serial", "now": "the current time",
            "today": "the current date", "fresh uuid": "a fresh UUID"}.get(kind[0]) or str(kind[1])


@pytest.fixture
async def conn(database):
    connection = await asyncpg.connect(database)
    try:
        yield connection
    finally:
        await connection.close()


async def test_every_table_matches_the_migrated_database(conn):
    problems: list[str] = []
    for table in registered_tables():
        problems += await drift(conn, table)
    assert not problems, "piccolo Tables and the migrated database differ:\n" + "\n".join(problems)


async def test_every_table_of_the_database_has_a_table_class(conn):
    names = {t._meta.tablename for t in registered_tables()}
    in_db = {r["relname"] for r in await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')")}
    missing = sorted(in_db - names - SQL_ONLY_TABLES.keys())
    assert not missing, f"tables without a piccolo Table (declare one, or list it in SQL_ONLY_TABLES): {missing}"
    stale = sorted(SQL_ONLY_TABLES.keys() - in_db)
    assert not stale, f"SQL_ONLY_TABLES names tables the database does not have: {stale}"
    stale_columns = sorted(f"{t}.{c}" for t, c in SQL_ONLY_COLUMNS if t not in in_db)
    assert not stale_columns, f"SQL_ONLY_COLUMNS names tables the database does not have: {stale_columns}"


def test_every_table_class_is_in_an_app():
    """A Table in a domain's tables.py that no AppConfig lists would escape the drift check."""
    registered = set(registered_tables())
    loose = sorted(f"{t.__module__}.{t.__name__}" for t in _all_subclasses(Table)
                   if t.__module__.endswith(".tables") and not t.__module__.startswith("piccolo.")
                   and t not in registered)
    assert not loose, f"Tables not listed in any piccolo_app.py: {loose}"


# ---------------------------------------------------------------------------------------------- the test tests

class _DriftedSupplier(Table, tablename="supplier", db=DB):
    """The supplier table as a careless edit would leave it."""

    organisation_id = UUID(primary_key=True, default=None)
    ruc = Varchar(length=20, default=None)          # the database says varchar(11)
    legal_name = Text(null=True, default=None)      # the database says NOT NULL
    ubigeo = Varchar(length=6, default=None)
    person_type = Varchar(length=10, default=None)
    mype = Boolean(default=True)                    # the database says false
    status = Varchar(length=16)                     # default '' where the database says 'pending'
    nickname = Text()                               # no such column
    # status_reason, suspended_until, ... left out


async def test_a_drifted_table_fails_naming_table_column_and_difference(conn):
    problems = await drift(conn, _DriftedSupplier)
    text = "\n".join(problems)
    assert "supplier.ruc: type: Table says character varying(20), database has character varying(11)" in problems
    assert ("supplier.legal_name: nullability: Table says NULL, database has NOT NULL") in problems
    assert "supplier.mype: default: Table says true, database has false" in problems
    assert "supplier.status: default: Table says '', database has 'pending'::character varying" in problems
    assert "supplier.nickname: declared by _DriftedSupplier, missing from the database" in problems
    assert "supplier.status_reason: in the database (text), not declared by _DriftedSupplier" in text
    assert "supplier.registered_at: in the database (timestamp with time zone)" in text
    # the columns it declares exactly are not reported
    assert not [p for p in problems if p.startswith(("supplier.organisation_id", "supplier.ubigeo:"))]


async def test_an_identity_column_declared_as_a_plain_integer_is_drift(conn):
    class _Order(Table, tablename="purchase_order", db=DB):
        id = UUID(primary_key=True)
        number = BigInt()  # GENERATED ALWAYS AS IDENTITY: piccolo would write 0 into it

    problems = await drift(conn, _Order)
    assert "purchase_order.number: default: Table says 0, database has an identity/serial" in problems
