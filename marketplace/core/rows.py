"""Typed rows from piccolo queries, and inserts that name every column.

A service reads and writes through piccolo's query builder and hands on msgspec Structs, not bare dicts:

    row = rows.one(ContractRow, await Contract.select().where(Contract.id == contract_id).first())
    created = rows.one(ContractRow, (await Contract.insert(rows.new(Contract, {...})).returning(
        *Contract.all_columns()))[0])

piccolo selects a foreign key under its database name (`agency_org_id`), so a row Struct names its fields
after the table's columns as PostgreSQL knows them.

`new()` builds the object an insert writes with every column said: piccolo gives a column without a value
its own default even when it is nullable (a nullable Date becomes today, a nullable UUID a random id), so a
nullable column not given is NULL here, and a NOT NULL column not given is an error rather than a silent
'' or 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import msgspec
from piccolo.table import Table

S = TypeVar("S", bound=msgspec.Struct)
T = TypeVar("T", bound=Table)


def one(cls: type[S], row: Mapping[str, Any] | None) -> S | None:
    """`row` (a dict piccolo returned) as a `cls`, or None."""
    return None if row is None else msgspec.convert(row, cls)


def many(cls: type[S], rows: Iterable[Mapping[str, Any]]) -> list[S]:
    return [msgspec.convert(r, cls) for r in rows]


def new(table: type[T], values: Mapping[str, Any]) -> T:
    """An instance of `table` for an insert, from values keyed by database column name. The primary key may
    be left out (its default makes one); nullable columns left out are NULL; any other column left out raises."""
    data: dict[Any, Any] = {}
    by_name = {c._meta.db_column_name: c for c in table._meta.columns}
    unknown = set(values) - set(by_name)
    if unknown:
        raise KeyError(f"{table._meta.tablename} has no column {', '.join(sorted(unknown))}")
    for name, column in by_name.items():
        if name in values:
            data[column] = values[name]
        elif column._meta.null:
            data[column] = None
        elif not column._meta.primary_key:
            raise KeyError(f"{table._meta.tablename}.{name} needs a value")
    return table(_data=data)
