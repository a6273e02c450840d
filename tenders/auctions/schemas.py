"""Auction payloads: scheduling (Create), a bid (lance) and its signed receipt, and the board (Read). Amounts are
Money objects ({"amount": <céntimos>, "currency": "PEN"}; taken as input in soles); percentages are numbers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import msgspec

from marketplace.core.money import Money, Score


class AuctionCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Schedule the live auction of a lot (after its opening). Policy fields left out take the defaults."""

    starts_at: datetime
    duration_seconds: Annotated[int, msgspec.Meta(ge=10, le=86_400)] | None = None
    min_decrement: Money | None = None  # PEN
    min_decrement_percent: Decimal | None = None  # 0 to 50 (checked with the policy)
    soft_close_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)] | None = None
    extension_seconds: Annotated[int, msgspec.Meta(ge=0, le=3_600)] | None = None
    max_extensions: Annotated[int, msgspec.Meta(ge=0, le=10_000)] | None = None
    must_beat_best: bool | None = None
    auto_award: bool | None = None


class LanceCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new, lower price for the lot (PEN)."""

    price: Money


class LanceReceipt(msgspec.Struct):
    """Signed by the platform (Ed25519 over the canonical JSON of every field but `signature`; the key is
    at GET /api/v1/bids/receipt-key)."""

    bid_id: str
    auction_id: str
    ocid: str
    lot_id: str
    seq: int
    price: Money
    received_at: str
    ends_at: str
    key_id: str
    signature: str


class AuctionPolicyRead(msgspec.Struct):
    duration_seconds: int
    min_decrement: Money
    min_decrement_percent: Score
    soft_close_seconds: int
    extension_seconds: int
    max_extensions: int
    must_beat_best: bool
    auto_award: bool


class StandingRead(msgspec.Struct, omit_defaults=True):
    alias: str
    rank: int
    price: Money
    supplier_id: UUID | None = None  # after the end only
    supplier_name: str | None = None  # after the end only


class LanceRead(msgspec.Struct, omit_defaults=True):
    seq: int
    alias: str
    price: Money
    received_at: datetime
    extended: bool
    ends_at: datetime
    supplier_id: UUID | None = None  # after the end only
    supplier_name: str | None = None


class YouRead(msgspec.Struct):
    alias: str
    rank: int
    price: Money
    initial_price: Money
    next_max_price: Money  # the highest price your next bid may have now


class AuctionRead(msgspec.Struct, omit_defaults=True):
    """The board: public and anonymous while the auction runs; with names once it has ended."""

    id: UUID
    tender_id: UUID
    lot_id: UUID
    state: str
    starts_at: datetime
    ends_at: datetime
    server_time: datetime
    currency: str
    version: int
    extensions: int
    participants: int
    policy: AuctionPolicyRead
    best_price: Money | None = None
    standings: list[StandingRead] = []
    bids: list[LanceRead] = []
    closed_at: datetime | None = None
    award_state: str | None = None
    you: YouRead | None = None
