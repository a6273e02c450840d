"""Read models of the oversight API (msgspec Structs)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec


class AwardHistoryRead(msgspec.Struct):
    """An award, ours or imported (`publisher`). An imported award has no tender, lot or place of delivery of
    ours; its agency_id / supplier_id are those of the registered organisation with its RUC, if any."""

    award_id: UUID
    tender_id: UUID | None
    lot_id: UUID | None
    ocid: str
    tender_title: str
    lot_title: str
    agency_id: UUID | None
    agency_ruc: str | None
    agency_name: str
    supplier_id: UUID | None
    supplier_ruc: str | None
    supplier_name: str
    method: str
    category: str
    classification_scheme: str
    classification_code: str
    delivery_ubigeo: str | None
    region: str | None
    province: str | None
    value: int | None  # minor units of `currency` (céntimos for PEN); None when the publisher gave none
    currency: str
    state: str
    awarded_at: datetime
    publisher: str  # the publisher's slug (GET /api/v1/oversight/publishers); ours: "mercado-abierto"


class AwardHistoryPage(msgspec.Struct):
    items: list[AwardHistoryRead]
    next_cursor: str | None


class AggregateRow(msgspec.Struct):
    key: str
    label: str | None
    count: int
    total: int  # minor units of `currency`: one row per group and currency, never summed across currencies
    currency: str


class Aggregates(msgspec.Struct):
    by: str
    items: list[AggregateRow]


class ConcentrationRow(msgspec.Struct):
    agency_id: UUID | None  # None: an imported buyer not registered here
    agency_name: str
    publisher: str
    currency: str  # one row per agency and currency
    suppliers: int
    total: int
    hhi: Decimal  # Herfindahl-Hirschman index, 0-10,000
    top_share: Decimal  # the largest supplier's share, 0-1


class StageTime(msgspec.Struct):
    agency_id: UUID | None  # None: an imported buyer not registered here
    agency_name: str
    publisher: str
    method: str
    stage: str
    count: int
    p50_days: float
    p90_days: float


class StageTimes(msgspec.Struct):
    limits_days: dict[str, int]
    items: list[StageTime]


class AlarmRead(msgspec.Struct):
    id: int
    tender_id: UUID
    ocid: str
    title: str
    stage: str
    entered_at: datetime
    agency_id: UUID
    agency_name: str
    limit_days: int
    raised_at: datetime
    cleared_at: datetime | None


class StuckRead(msgspec.Struct):
    tender_id: UUID
    ocid: str
    title: str
    stage: str
    entered_at: datetime
    agency_id: UUID
    agency_name: str
    method: str
    limit_days: int
    days_in_stage: float


class Alarms(msgspec.Struct):
    alarms: list[AlarmRead]
    stuck_now: list[StuckRead]


class NotificationRead(msgspec.Struct):
    id: int
    kind: str
    subject: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class BulkFile(msgspec.Struct):
    """One bulk file: every release published on `date` (UTC). `complete` false: the current day so far,
    rewritten each hour until the day's final file (never rewritten) replaces it."""

    name: str
    date: str
    size: int
    sha256: str
    url: str
    complete: bool = True


class PublisherRead(msgspec.Struct):
    """An OCDS publisher whose contracting processes are here: ours ("Mercado Abierto", `own`) or imported."""

    slug: str
    name: str
    uri: str
    ocid_prefixes: list[str]
    own: bool
    processes: int
    releases: int
    last_import_at: datetime | None
    harvested: bool  # has a feed that is harvested on a schedule
    last_harvest_at: datetime | None


# --- one contracting process (GET /api/v1/oversight/processes/{ocid}) -----------------------------------------
# Amounts as in the award history: `value` in the minor units of `currency` (None when not published).

class ProcessReleaseRead(msgspec.Struct):
    release_id: str
    date: str  # as published (RFC 3339)
    tags: list[str]


class ProcessLotRead(msgspec.Struct):
    id: str
    title: str
    status: str
    value: int | None
    currency: str


class ProcessBidRead(msgspec.Struct):
    id: str
    status: str
    date: str
    tenderers: list[str]  # names (ids when unnamed)
    value: int | None
    currency: str


class ProcessAwardRead(msgspec.Struct):
    id: str
    title: str
    status: str
    date: str
    suppliers: list[str]
    supplier_rucs: list[str]
    value: int | None
    currency: str


class ProcessContractRead(msgspec.Struct):
    id: str
    award_id: str
    title: str
    status: str
    date_signed: str
    value: int | None
    currency: str


class ProcessRead(msgspec.Struct):
    """A contracting process, ours or imported, read from its compiled release."""

    ocid: str
    title: str
    status: str
    buyer_name: str
    buyer_ruc: str | None
    procurement_method: str
    procurement_method_details: str
    publisher: str  # slug
    publisher_name: str
    source_url: str  # where the publisher publishes it ('' when unknown)
    tender_id: UUID | None  # ours: the tender's page
    releases: list[ProcessReleaseRead]
    lots: list[ProcessLotRead]
    bids: list[ProcessBidRead]
    awards: list[ProcessAwardRead]
    contracts: list[ProcessContractRead]
    updated_at: datetime
