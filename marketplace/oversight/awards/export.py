"""CSV and JSON Lines exports of the award history, streamed by PostgreSQL's COPY (used by the API and the CLI).

PostgreSQL formats the rows itself (`COPY (SELECT ...) TO STDOUT`), in one read-only transaction on the
replica when one is configured. The COPY's output callback puts chunks on a small bounded queue that the
HTTP response (or the CLI) drains: when the client reads slowly the queue fills, the callback waits, asyncpg
stops reading the socket and the server waits too, so memory stays flat whatever the size of the export.

Columns: those of `award_history`, plus `amount` (in the currency's units as decimal text: "123.45" PEN,
"5000" PYG); `value` is in the currency's minor units (céntimos for PEN); times are RFC 3339 UTC.

CSV is opened by spreadsheets, which run a cell starting with `=`, `+`, `-` or `@` as a formula (and a
leading tab or carriage return can hide one): supplier names and tender titles are written by anyone
(issue 17, finding 3). So every text cell of the CSV starting with one of those is written with a `'`
before it (OWASP's rule for CSV injection); numbers, ids and times are ours and never start so. JSON Lines
keeps every value exact (it is not opened as a spreadsheet).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from babel.numbers import get_currency_precision, list_currencies

from marketplace.oversight import reads
from marketplace.oversight.awards.service import COLUMNS, Filters

FORMATS = {"csv": "text/csv", "jsonl": "application/jsonl"}  # UTF-8 (Litestar adds the charset to text/*)
CHUNK = 64 * 1024  # bytes handed to the response at a time
QUEUE = 16  # chunks buffered between PostgreSQL and the client


def amount_sql() -> str:
    """`value` as a decimal text in its currency's units ("123.45" for 12345 PEN, "5000" for 5000 PYG), by
    babel's precision of each currency (2 unless listed)."""
    by_digits: dict[int, list[str]] = {}
    for code in sorted(list_currencies()):
        digits = int(get_currency_precision(code))
        if digits != 2 and len(code) == 3 and code.isalpha() and code.isupper():
            by_digits.setdefault(digits, []).append(code)
    cases = " ".join(f"WHEN rtrim(currency) IN ({', '.join(repr(c) for c in codes)})"
                     f" THEN round(value::numeric / {10 ** d}, {d})::text" for d, codes in sorted(by_digits.items()))
    return f"(CASE {cases} ELSE round(value::numeric / 100, 2)::text END)"


_TS = """to_char(awarded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_AMOUNT = amount_sql()
_ORDER = "ORDER BY awarded_at DESC, award_id DESC"


# The text columns of the CSV (the others are uuids, integers and times, which never start with a formula).
_TEXT = frozenset({"ocid", "tender_title", "lot_title", "agency_ruc", "agency_name", "supplier_ruc",
                   "supplier_name", "method", "category", "classification_scheme", "classification_code",
                   "delivery_ubigeo", "region", "province", "currency", "state"})


def csv_cell(column: str) -> str:
    """The SQL of a text column as a CSV cell a spreadsheet shows as text: OWASP's rule, a cell starting
    with = + - @ tab or carriage return gets a leading apostrophe."""
    return (f"CASE WHEN left({column}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') THEN '''' || {column}"
            f" ELSE {column} END")


def _csv_column(column: str) -> str:
    if column == "awarded_at":
        return _TS + " AS awarded_at"
    if column in _TEXT:
        return f"{csv_cell(column)} AS {column}"
    return column


def _select(fmt: str, where: str) -> str:
    if fmt == "csv":
        cols = [_csv_column(c) for c in COLUMNS] + [_AMOUNT + " AS amount"]
        return f"SELECT {', '.join(cols)} FROM award_history WHERE {where} {_ORDER}"
    return f"SELECT {_JSON_LINE} FROM award_history WHERE {where} {_ORDER}"


def _json_value(column: str) -> str:
    if column in _UUIDS:
        return f"coalesce('\"' || {column} || '\"', 'null')"  # a uuid's text needs no escaping
    if column == "value":
        return "coalesce(value::text, 'null')"
    if column == "currency":
        return "to_json(rtrim(currency))::text"
    # timestamptz in JSON is ISO 8601 with the session's offset: the export's transaction sets UTC.
    return f"coalesce(to_json({column})::text, 'null')"


# One JSON object per row, the bytes row_to_json() would give (same keys, order and values;
# tests/oversight/test_award_history.py compares them), built by concatenation: twice as fast in PostgreSQL
# as row_to_json over a subquery (1M rows here: 11 s against 23 s).
_UUIDS = frozenset({"award_id", "tender_id", "lot_id", "agency_id", "supplier_id"})
_JSON_LINE = " || ".join(
    [("'{" if i == 0 else "',") + f'"{c}":\' || {_json_value(c)}' for i, c in enumerate(COLUMNS)]
    + [f"',\"amount\":' || coalesce('\"' || {_AMOUNT} || '\"', 'null') || '}}'"])


async def encode(*, filters: Filters, fmt: str, chunk: int = CHUNK) -> AsyncIterator[bytes]:
    """The export as chunks of bytes. A client that goes away cancels the COPY."""
    filters.check()
    args: list[Any] = []
    where = filters.where(args)
    if fmt == "csv":
        options: dict[str, Any] = {"format": "csv", "header": True}
    else:
        # One text column of JSON per row, written as is: CSV format with a quote and a delimiter that never
        # occur in the data, so COPY neither quotes nor escapes anything.
        options = {"format": "csv", "quote": "\x01", "delimiter": "\x02"}
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=QUEUE)

    async def sink(data: bytes) -> None:
        await queue.put(bytes(data))

    async def run() -> None:
        try:
            async with reads.read_connection() as conn:
                await conn.execute("SET LOCAL TimeZone = 'UTC'")
                await conn.copy_from_query(_select(fmt, where), *args, output=sink, **options)
            await queue.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which re-raises it
            await queue.put(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise

    task = asyncio.get_running_loop().create_task(run())
    buf = bytearray()
    try:
        while True:
            item = await queue.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            buf += item
            if len(buf) >= chunk:
                yield bytes(buf)
                buf.clear()
        if buf:
            yield bytes(buf)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):  # cancelled on purpose
                await task
