"""The red-flag read model's API payloads (GET /api/v1/oversight/red-flags)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class RedFlagRead(msgspec.Struct):
    id: int
    code: str  # Cardinal's (R003 ... R058) or ours (MA-AMEND, MA-STAGE)
    scope: str  # process, tenderer, buyer or procuring_entity (Cardinal's OCID, Tenderer, Buyer, ProcuringEntity)
    subject: str  # the ocid, or the organisation's party id
    ocid: str | None  # the process the flag comes from (none for an organisation's population flag)
    publisher: str  # the OCDS publisher's slug (populations are per publisher)
    buyer_id: str | None
    buyer_ruc: str | None
    supplier_id: str | None
    supplier_ruc: str | None
    value: float  # Cardinal's value (a ratio, a count, 1.0...); MA-AMEND: the cumulative change in %
    evidence: dict[str, Any]  # what the flag rests on (fences, counts, dates, the bids...)
    date: datetime  # the process's release date, or when a population flag was computed
    computed_at: datetime
    region: str | None = None  # the ubigeo's first 2 digits: our own processes only (imported ones have none)


class RedFlagPage(msgspec.Struct):
    items: list[RedFlagRead]
    next_cursor: str | None  # pass as `cursor` for the next page; none on the last one
