"""Auction endpoints (thin): schedule, the board (JSON and live SSE), bids (lances) with signed receipts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from marketplace.core import idempotency
from marketplace.core.deps import ActorDep, SettingsDep
from tenders.auctions import service
from tenders.auctions.schemas import AuctionCreate, AuctionRead, LanceCreate, LanceReceipt

BID_ROUTE = "POST /api/v1/auctions/{id}/bids"


class TenderAuctionController(Controller):
    path = "/api/v1/tenders/{tender_id:uuid}"
    tags = ["auctions"]

    @post("/lots/{lot_id:uuid}/auction", status_code=201,
          summary="Schedule the live reverse auction of a lot (subasta inversa, after the opening)")
    async def schedule(self, tender_id: FromPath[UUID], lot_id: FromPath[UUID], data: JSONBody[AuctionCreate],
                       actor: ActorDep, settings: SettingsDep) -> AuctionRead:
        result = await service.schedule(actor=actor, settings=settings, tender_id=tender_id, lot_id=lot_id,
                                        data=data)
        return result

    @get("/auctions", summary="The auctions of a tender's lots (public boards)")
    async def list(self, tender_id: FromPath[UUID], actor: ActorDep) -> list[AuctionRead]:
        return await service.list_auctions(actor=actor, tender_id=tender_id)


class AuctionController(Controller):
    path = "/api/v1/auctions/{auction_id:uuid}"
    tags = ["auctions"]

    @get("/", summary="The board now: anonymous while running (a participant sees its own rank), named after")
    async def board(self, auction_id: FromPath[UUID], actor: ActorDep, settings: SettingsDep) -> AuctionRead:
        return await service.get_board(actor=actor, settings=settings, auction_id=auction_id)

    @get("/events", summary="The live board over Server-Sent Events: a 'snapshot' first, then 'bid' events"
                            " (and a new 'snapshot' on start, close or catch-up)")
    async def events(self, auction_id: FromPath[UUID], actor: ActorDep,
                     channels: NamedDependency[ChannelsPlugin], settings: SettingsDep) -> Stream:
        viewer = await service.open_board(actor=actor, settings=settings, auction_id=auction_id)
        return Stream(channels.hub.stream(auction_id, viewer),  # type: ignore[attr-defined]
                      media_type="text/event-stream",
                      headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @post("/bids", status_code=201,
          summary="Place a bid (lance): below your last price and the best by the minimum decrement; 201 with a"
                  " signed receipt; 409 after the end. Honours Idempotency-Key.")
    async def bid(self, request: Request[Any, Any, Any], auction_id: FromPath[UUID], data: JSONBody[LanceCreate],
                  actor: ActorDep, settings: SettingsDep) -> Response[LanceReceipt]:
        claim = await idempotency.claim(actor=actor, route=BID_ROUTE, key=request.headers.get("idempotency-key"),
                                        request=(str(auction_id), data))
        if claim.replay is None:
            receipt = await service.place_bid(actor=actor, settings=settings, auction_id=auction_id, data=data)
            if claim.key is not None:
                await claim.store(status=201, response=receipt)
        if claim.replay is not None:
            return Response(claim.replay.response, status_code=claim.replay.status,
                            headers={"Idempotent-Replayed": "true"})
        return Response(receipt, status_code=201)


ROUTES = [TenderAuctionController, AuctionController]
