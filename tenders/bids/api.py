"""Bid endpoints (thin). The receipt is returned only after the transaction has committed."""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.core import idempotency
from marketplace.core.deps import ActorDep, SettingsDep
from marketplace.core.transactions import OWN_TRANSACTION
from marketplace.settings import Settings
from tenders.bids import listing, service
from tenders.bids.schemas import BidCreate, BidPage, BidRead, Receipt, ReceiptKey

SUBMIT_ROUTE = "POST /api/v1/tenders/{id}/bids"


def _hmac_key(settings: Settings) -> bytes:
    """The key of the request fingerprints of bids (their bodies hold prices): derived, not the KEK itself."""
    return _fingerprint_key(settings.keys.sealing_key_bytes())


@functools.lru_cache(maxsize=8)
def _fingerprint_key(kek: bytes) -> bytes:
    return hashlib.sha256(b"mercado-abierto idempotency\x00" + kek).digest()


class SubmitBidController(Controller):
    path = "/api/v1/tenders/{tender_id:uuid}/bids"
    tags = ["bids"]

    # OWN_TRANSACTION: the submission is one statement, its own transaction, shared with the other bids that
    # arrive at the same moment (tenders/bids/batch.py); the Idempotency-Key is claimed inside it and the
    # receipt is returned once it has committed.
    @post("/", summary="Submit a sealed bid; 201 with a signed receipt. Honours Idempotency-Key.", status_code=201,
          opt=OWN_TRANSACTION)
    async def submit(self, request: Request[Any, Any, Any], tender_id: FromPath[UUID], data: JSONBody[BidCreate],
                     actor: ActorDep, settings: SettingsDep) -> Response[Receipt]:
        claim = idempotency.prepare(actor=actor, route=SUBMIT_ROUTE, key=request.headers.get("idempotency-key"),
                                    request=(str(tender_id), data), secret=_hmac_key(settings))
        result = await service.submit_bid(actor=actor, settings=settings, tender_id=tender_id, data=data,
                                          claim=claim)
        if isinstance(result, idempotency.Stored):
            return Response(result.response, status_code=result.status, headers={"Idempotent-Replayed": "true"})
        return Response(result, status_code=201)


class BidController(Controller):
    path = "/api/v1/bids"
    tags = ["bids"]

    @get("/", summary="Your organisation's own bids, newest first, with their states (a supplier's bidder); keyset"
         " pages")
    async def list_bids(
        self, actor: ActorDep,
        tender_id: Annotated[UUID | None, QueryParameter(description="only this tender's")] = None,
        bid_state: Annotated[str | None, QueryParameter(
            name="state", description="submitted, to_reconfirm, withdrawn, excluded, opened or awarded")] = None,
        date_from: Annotated[datetime | None, QueryParameter(description="received at or after (RFC 3339)")] = None,
        date_to: Annotated[datetime | None, QueryParameter(description="received before (RFC 3339)")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200, description="page size")] = 50,
        cursor: Annotated[str | None,
                          QueryParameter(max_length=200, description="`next_cursor` of the previous page")] = None,
    ) -> BidPage:
        return await listing.list_bids(actor=actor, tender_id=tender_id, state=bid_state, date_from=date_from,
                                       date_to=date_to, cursor=cursor, limit=limit)

    @get("/receipt-key", summary="The public key that verifies bid receipts (Ed25519)")
    async def receipt_key(self, settings: SettingsDep) -> ReceiptKey:
        return ReceiptKey(key_id=settings.signing_key_id, algorithm="Ed25519",
                          public_key=settings.keys.signing_public_key_b64(),
                          signed_fields=["bid_id", "key_id", "lots", "ocid", "received_at", "sha256"])

    @get("/{bid_id:uuid}", summary="Your bid's status and receipt (content only after the opening)")
    async def read(self, bid_id: FromPath[UUID], actor: ActorDep, settings: SettingsDep) -> BidRead:
        return await service.get_bid(actor=actor, settings=settings, bid_id=bid_id)

    @put("/{bid_id:uuid}", summary="Replace a bid before the deadline; a new signed receipt")
    async def replace(self, bid_id: FromPath[UUID], data: JSONBody[BidCreate], actor: ActorDep,
                      settings: SettingsDep) -> Receipt:
        receipt = await service.replace_bid(actor=actor, settings=settings, bid_id=bid_id, data=data)
        return receipt

    @delete("/{bid_id:uuid}", summary="Withdraw a bid before the deadline", status_code=204)
    async def withdraw(self, bid_id: FromPath[UUID], actor: ActorDep) -> None:
        await service.withdraw_bid(actor=actor, bid_id=bid_id)

    @post("/{bid_id:uuid}/confirm", summary="Confirm a bid after a material amendment", status_code=200)
    async def confirm(self, bid_id: FromPath[UUID], actor: ActorDep, settings: SettingsDep) -> BidRead:
        await service.confirm_bid(actor=actor, settings=settings, bid_id=bid_id)
        return await service.get_bid(actor=actor, settings=settings, bid_id=bid_id)


ROUTES = [SubmitBidController, BidController]
