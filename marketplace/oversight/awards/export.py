"""CSV and JSON Lines encodings of the award history, batch by batch (used by the API and the CLI)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import msgspec

from marketplace.oversight.awards import service
from marketplace.oversight.awards.service import COLUMNS, Filters

FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl; charset=utf-8"}
_json = msgspec.json.Encoder()


def _amount(cents: int) -> str:
    return str(Decimal(cents).scaleb(-2))


def _csv_batch(rows: list[Any], header: bool) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow([*COLUMNS, "amount"])
    for r in rows:
        values = list(r)
        w.writerow([*(v.isoformat() if hasattr(v, "isoformat") else v for v in values), _amount(r["value"])])
    return buf.getvalue().encode()


def _jsonl_batch(rows: list[Any]) -> bytes:
    out = bytearray()
    for r in rows:
        d = dict(zip(COLUMNS, r))
        d["amount"] = _amount(d["value"])
        out += _json.encode(d)
        out += b"\n"
    return bytes(out)


async def encode(*, filters: Filters, fmt: str, batch: int = service.EXPORT_BATCH) -> AsyncIterator[bytes]:
    """The export as chunks of bytes (one chunk per database batch). CSV has a header row; `value` is in
    céntimos and `amount` in soles."""
    first = True
    if fmt == "csv":
        async for rows in service.stream_rows(filters=filters, batch=batch):
            yield _csv_batch(rows, first)
            first = False
        if first:
            yield _csv_batch([], True)
        return
    async for rows in service.stream_rows(filters=filters, batch=batch):
        yield _jsonl_batch(rows)
