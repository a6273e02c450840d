"""Bid payloads. What a supplier sends is sealed whole; the receipt is what the platform signs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from marketplace.core.money import Money

MAX_DOCUMENT_B64 = 7_000_000  # about 5 MB per document once decoded


class BidLotPrice(msgspec.Struct, forbid_unknown_fields=True):
    lot_id: UUID
    price: Money  # PEN


class BidDocument(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    filename: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_DOCUMENT_B64,
                                         description="file content, base64")]
    media_type: Annotated[str, msgspec.Meta(max_length=120)] = "application/octet-stream"


class BidCreate(msgspec.Struct, forbid_unknown_fields=True):
    lots: Annotated[list[BidLotPrice], msgspec.Meta(min_length=1, max_length=200)]
    documents: Annotated[list[BidDocument], msgspec.Meta(max_length=20)] = []
    notes: Annotated[str, msgspec.Meta(max_length=5_000)] = ""


class Receipt(msgspec.Struct):
    """Signed by the platform (Ed25519 over the canonical JSON of every field but `signature`)."""

    bid_id: str
    ocid: str
    lots: list[str]
    sha256: str
    received_at: str
    key_id: str
    signature: str

    def signed_fields(self) -> dict[str, Any]:
        return {"bid_id": self.bid_id, "ocid": self.ocid, "lots": self.lots, "sha256": self.sha256,
                "received_at": self.received_at, "key_id": self.key_id}


class BidRead(msgspec.Struct):
    id: UUID
    tender_id: UUID
    supplier_id: UUID
    status: str
    version: int
    needs_reconfirmation: bool
    receipt: Receipt
    confirmed_at: datetime | None = None
    withdrawn_at: datetime | None = None
    opened_at: datetime | None = None
    content: dict[str, Any] | None = None  # only after the opening


class ReceiptKey(msgspec.Struct):
    key_id: str
    algorithm: str
    public_key: str  # raw Ed25519 public key, base64url
    signed_fields: list[str]


BID_STATES = ("submitted", "to_reconfirm", "withdrawn", "excluded", "opened", "awarded")


class BidLotSummary(msgspec.Struct):
    lot_id: UUID
    number: int
    title: str
    price: Money | None = None  # the opened price: none before the opening (bids are sealed until then)


class BidSummary(msgspec.Struct):
    """One of the supplier's own bids, as `GET /api/v1/bids` lists it.

    `state`: submitted (live, waiting for the opening); to_reconfirm (a material amendment came after it:
    confirm or replace it before the deadline, or it is excluded); withdrawn; excluded (at the opening,
    `excluded_reason` says why: not_reconfirmed, corrupt); opened (in the evaluation); awarded (an award of it
    stands: `award_ids`)."""

    id: UUID
    tender_id: UUID
    ocid: str
    tender_title: str
    tender_state: str
    status: str
    state: str
    version: int
    needs_reconfirmation: bool
    received_at: datetime
    lots: list[BidLotSummary]
    excluded_reason: str | None = None
    confirmed_at: datetime | None = None
    withdrawn_at: datetime | None = None
    opened_at: datetime | None = None
    award_ids: list[UUID] = []


class BidPage(msgspec.Struct):
    items: list[BidSummary]
    next_cursor: str | None  # give it as `cursor` for the next page; none on the last
