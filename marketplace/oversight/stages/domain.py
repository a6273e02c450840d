"""How long the stages of an imported process took, read from its compiled release's dates (pure).

OCDS gives no stage history, only dates; these spans are what they allow, named like our own stages:
* `tendering`: from `tender.tenderPeriod.startDate` to its `endDate` (bids could be submitted);
* `evaluation`: from the end of the tender period to the first award's date;
* `awarded`: from that award's date to the first contract's `dateSigned`.
A span is kept only when both of its dates are there and it does not end before it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marketplace.oversight.imports import domain as ocds


@dataclass(frozen=True, slots=True)
class Span:
    stage: str
    entered_at: datetime
    left_at: datetime


def _when(value: Any) -> datetime | None:
    return ocds.parse_date(value) if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(items: Any, key: str) -> datetime | None:
    dates = [d for x in (items if isinstance(items, list) else []) if isinstance(x, dict)
             if (d := _when(x.get(key))) is not None]
    return min(dates) if dates else None


def spans(compiled: dict[str, Any]) -> list[Span]:
    tender = _dict(compiled.get("tender"))
    period = _dict(tender.get("tenderPeriod"))
    start, end = _when(period.get("startDate")), _when(period.get("endDate"))
    awarded = _first(compiled.get("awards"), "date")
    signed = _first(compiled.get("contracts"), "dateSigned")
    out = []
    for stage, a, b in (("tendering", start, end), ("evaluation", end, awarded), ("awarded", awarded, signed)):
        if a is not None and b is not None and b >= a:
            out.append(Span(stage=stage, entered_at=a, left_at=b))
    return out
