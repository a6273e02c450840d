"""/api/v1/payments: payments and the ledger (scoped by the caller), the registry fee, connected accounts,
and POST /api/v1/payments/stripe/webhook (raw body, verified, stored once); for oversight bodies,
GET /api/v1/oversight/payment-alarms (payments stuck in 'requested' past PAYMENT_STUCK_MINUTES)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from marketplace.core.deps import ActorDep, SettingsDep
from marketplace.payments import service
from marketplace.payments.schemas import (
    ConnectedAccountRead,
    ConnectedAccountUpdate,
    LedgerEntryRead,
    PaymentAlarmRead,
    PaymentRead,
    RegistryFeeCreate,
    WebhookAck,
    alarm_read,
    connected_account_read,
    ledger_read,
    payment_read,
)


class PaymentsController(Controller):
    path = "/api/v1/payments"
    tags = ["payments"]

    @get("/", summary="Payments the caller may see (suppliers: their own; agencies: theirs; oversight: all)")
    async def list_payments(
        self, actor: ActorDep, kind: FromQuery[str | None] = None,
        payment_state: Annotated[str | None, QueryParameter(name="state")] = None,
        contract_id: FromQuery[UUID | None] = None, appeal_id: FromQuery[UUID | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> list[PaymentRead]:
        rows = await service.list_payments(actor=actor, kind=kind, state=payment_state, contract_id=contract_id,
                                           appeal_id=appeal_id, limit=limit, offset=offset)
        return [payment_read(r) for r in rows]

    @get("/ledger", summary="Ledger entries the caller may see, oldest first")
    async def ledger(self, actor: ActorDep, contract_id: FromQuery[UUID | None] = None,
                     limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200) -> list[LedgerEntryRead]:
        return [ledger_read(r) for r in await service.ledger(actor=actor, contract_id=contract_id, limit=limit)]

    @get("/{payment_id:uuid}", summary="One payment")
    async def get_payment(self, actor: ActorDep, payment_id: FromPath[UUID]) -> PaymentRead:
        return payment_read(await service.get_payment(actor=actor, payment_id=payment_id))

    @post("/registry-fee", status_code=202,
          summary="Ask to pay the supplier registry fee (a PaymentIntent is created by a job; poll for its "
                  "client_secret). Asking again returns the same payment. 503 payments-not-configured, writing "
                  "nothing, when the Stripe settings are missing.")
    async def registry_fee(self, actor: ActorDep, settings: SettingsDep,
                           data: JSONBody[RegistryFeeCreate]) -> PaymentRead:
        row = await service.request_registry_fee(actor=actor, settings=settings, year=data.year)
        return payment_read(row)

    @put("/connected-accounts/{organisation_id:uuid}", summary="Link a supplier's Stripe Connect account")
    async def connected_account(self, actor: ActorDep, organisation_id: FromPath[UUID],
                                data: JSONBody[ConnectedAccountUpdate]) -> ConnectedAccountRead:
        row = await service.set_connected_account(actor=actor, organisation_id=organisation_id,
                                                  stripe_account_id=data.stripe_account_id)
        return connected_account_read(row)

    @post("/stripe/webhook", status_code=200, summary="Stripe webhook endpoint (signed; stored once by event id)")
    async def stripe_webhook(self, request: Request[Any, Any, Any], settings: SettingsDep) -> WebhookAck:
        payload = await request.body()
        new = await service.receive_webhook(settings=settings, payload=payload,
                                            signature=request.headers.get("stripe-signature"))
        return WebhookAck(received=True, duplicate=not new)


@get("/api/v1/oversight/payment-alarms", tags=["oversight", "payments"],
     summary="Payments stuck in 'requested' (Stripe not reached) past PAYMENT_STUCK_MINUTES: one alarm each, "
             "cleared when the payment moves on (oversight bodies and the platform)")
async def payment_alarms(
    actor: ActorDep,
    include_cleared: Annotated[bool, QueryParameter(description="also alarms whose payment moved on")] = False,
) -> list[PaymentAlarmRead]:
    return [alarm_read(a) for a in await service.alarms(actor=actor, open_only=not include_cleared)]


ROUTES = [PaymentsController, payment_alarms]
