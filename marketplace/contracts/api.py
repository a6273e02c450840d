"""/api/v1/contracts: contracts, milestones, amendments, deliveries (conformidad), documents, balances."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.contracts import domain, service
from marketplace.contracts.schemas import (
    AmendmentCreate,
    AmendmentRead,
    BalanceRead,
    ContractCreate,
    ContractDetail,
    ContractRead,
    ContractSign,
    DeliveryCreate,
    DeliveryDecision,
    DeliveryRead,
    DeliveryRejection,
    DocumentCreate,
    DocumentRead,
    Guarantee,
    MilestoneCreate,
    MilestonePayment,
    MilestoneRead,
    Termination,
)
from marketplace.core import idempotency
from marketplace.core.deps import ActorDep
from marketplace.payments.schemas import PaymentRead, payment_read


def _pick(row: dict[str, Any], cls: type) -> dict[str, Any]:
    return {k: row[k] for k in cls.__struct_fields__ if k in row}


def contract_read(row: dict[str, Any], cls: type = ContractRead, **extra: Any) -> Any:
    data = _pick(row, cls)
    data.update(currency=row["currency"].strip(), flagged=domain.flagged(row["cumulative_change_pct"]),
                guarantee=Guarantee(kind=row["guarantee_kind"], amount_cents=row["guarantee_amount_cents"],
                                    issuer=row["guarantee_issuer"], reference=row["guarantee_reference"],
                                    expires_on=row["guarantee_expires_on"]) if row["guarantee_kind"] else None)
    data.update(extra)
    return cls(**data)


def milestone_read(row: dict[str, Any]) -> MilestoneRead:
    return MilestoneRead(**_pick(row, MilestoneRead))


def amendment_read(row: dict[str, Any]) -> AmendmentRead:
    return AmendmentRead(**_pick(row, AmendmentRead), flagged=domain.flagged(row["cumulative_change_pct"]))


def delivery_read(row: dict[str, Any]) -> DeliveryRead:
    return DeliveryRead(**_pick(row, DeliveryRead))


def document_read(row: dict[str, Any]) -> DocumentRead:
    return DocumentRead(**_pick(row, DocumentRead))


def balance_read(row: dict[str, Any]) -> BalanceRead:
    return BalanceRead(**_pick(row, BalanceRead))


class ContractsController(Controller):
    path = "/api/v1/contracts"
    tags = ["contracts"]

    @get("/", summary="Contracts the caller may see (its agency's or supplier's; oversight sees all)")
    async def list_contracts(
        self, actor: ActorDep, contract_state: Annotated[str | None, QueryParameter(name="state")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> list[ContractRead]:
        rows = await service.list_contracts(actor=actor, state=contract_state, limit=limit, offset=offset)
        return [contract_read(r) for r in rows]

    @post("/", summary="The contract of a consented award or an accepted order (201 new, 200 existing)")
    async def create(self, actor: ActorDep, data: JSONBody[ContractCreate]) -> Response[ContractRead]:
        row, created = await service.create(actor=actor, source_type=data.source_type, source_id=data.source_id)
        return Response(contract_read(row), status_code=201 if created else 200)

    @get("/{contract_id:uuid}", summary="A contract with its milestones, amendments, deliveries, documents, balance")
    async def detail(self, actor: ActorDep, contract_id: FromPath[UUID]) -> ContractDetail:
        row = await service.contract_detail(actor=actor, contract_id=contract_id)
        return contract_read(
            row, ContractDetail, milestones=[milestone_read(m) for m in row["milestones"]],
            amendments=[amendment_read(a) for a in row["amendments"]],
            deliveries=[delivery_read(d) for d in row["deliveries"]],
            documents=[document_read(d) for d in row["documents"]], balance=balance_read(row["balance"]))

    @get("/{contract_id:uuid}/balance", summary="Paid and outstanding, derived from the payment ledger")
    async def balance(self, actor: ActorDep, contract_id: FromPath[UUID]) -> BalanceRead:
        return balance_read(await service.balance(actor=actor, contract_id=contract_id))

    @post("/{contract_id:uuid}/sign", status_code=200, summary="Sign: period and performance guarantee")
    async def sign(self, actor: ActorDep, contract_id: FromPath[UUID], data: JSONBody[ContractSign]) -> ContractRead:
        row = await service.sign(actor=actor, contract_id=contract_id, data=data)
        return contract_read(row)

    @post("/{contract_id:uuid}/terminate", status_code=200, summary="Terminate with a reason")
    async def terminate(self, actor: ActorDep, contract_id: FromPath[UUID],
                        data: JSONBody[Termination]) -> ContractRead:
        row = await service.terminate(actor=actor, contract_id=contract_id, reason=data.reason)
        return contract_read(row)

    @get("/{contract_id:uuid}/milestones", summary="Milestones")
    async def list_milestones(self, actor: ActorDep, contract_id: FromPath[UUID]) -> list[MilestoneRead]:
        await service.get_contract(actor=actor, contract_id=contract_id)
        return [milestone_read(m) for m in await service.milestones(contract_id=contract_id)]

    @post("/{contract_id:uuid}/milestones", summary="Add a milestone (deliverable, due date, amount)")
    async def add_milestone(self, actor: ActorDep, contract_id: FromPath[UUID],
                            data: JSONBody[MilestoneCreate]) -> MilestoneRead:
        row = await service.add_milestone(actor=actor, contract_id=contract_id, data=data)
        return milestone_read(row)

    @post("/{contract_id:uuid}/milestones/{milestone_id:uuid}/payments", status_code=202,
          summary="Pay an accepted milestone (Stripe Connect, or a treasury transfer with its reference). "
                  "Send an Idempotency-Key.")
    async def pay_milestone(self, request: Request, actor: ActorDep, contract_id: FromPath[UUID],
                            milestone_id: FromPath[UUID],
                            data: JSONBody[MilestonePayment]) -> Response[PaymentRead]:
        claim = await idempotency.claim(
            actor=actor, route="POST /api/v1/contracts/{id}/milestones/{mid}/payments",
            key=request.headers.get(idempotency.HEADER),
            request=(str(contract_id), str(milestone_id), msgspec.to_builtins(data)))
        if claim.replay is None:
            row = await service.pay_milestone(actor=actor, contract_id=contract_id, milestone_id=milestone_id,
                                              external_reference=data.external_reference)
            body = msgspec.to_builtins(payment_read(row))
            await claim.store(status=202, response=body)
        if claim.replay is not None:
            return Response(claim.replay.response, status_code=claim.replay.status)
        return Response(body, status_code=202)

    @get("/{contract_id:uuid}/amendments", summary="Amendments, with the cumulative change in %")
    async def list_amendments(self, actor: ActorDep, contract_id: FromPath[UUID]) -> list[AmendmentRead]:
        row = await service.contract_detail(actor=actor, contract_id=contract_id)
        return [amendment_read(a) for a in row["amendments"]]

    @post("/{contract_id:uuid}/amendments", summary="Amend the value and/or the term, with a reason")
    async def amend(self, actor: ActorDep, contract_id: FromPath[UUID],
                    data: JSONBody[AmendmentCreate]) -> AmendmentRead:
        row = await service.amend(actor=actor, contract_id=contract_id, data=data)
        return amendment_read(row)

    @get("/{contract_id:uuid}/deliveries", summary="Deliveries and their acceptance")
    async def list_deliveries(self, actor: ActorDep, contract_id: FromPath[UUID]) -> list[DeliveryRead]:
        row = await service.contract_detail(actor=actor, contract_id=contract_id)
        return [delivery_read(d) for d in row["deliveries"]]

    @post("/{contract_id:uuid}/deliveries", summary="The supplier reports a milestone delivered")
    async def deliver(self, actor: ActorDep, contract_id: FromPath[UUID],
                      data: JSONBody[DeliveryCreate]) -> DeliveryRead:
        row = await service.submit_delivery(actor=actor, contract_id=contract_id, data=data)
        return delivery_read(row)

    @post("/{contract_id:uuid}/deliveries/{delivery_id:uuid}/accept", status_code=200,
          summary="The agency accepts the delivery (conformidad)")
    async def accept(self, actor: ActorDep, contract_id: FromPath[UUID], delivery_id: FromPath[UUID],
                     data: JSONBody[DeliveryDecision]) -> DeliveryRead:
        row = await service.decide_delivery(actor=actor, contract_id=contract_id, delivery_id=delivery_id,
                                            accept=True, note=data.note)
        return delivery_read(row)

    @post("/{contract_id:uuid}/deliveries/{delivery_id:uuid}/reject", status_code=200,
          summary="The agency rejects the delivery, with a reason")
    async def reject(self, actor: ActorDep, contract_id: FromPath[UUID], delivery_id: FromPath[UUID],
                     data: JSONBody[DeliveryRejection]) -> DeliveryRead:
        row = await service.decide_delivery(actor=actor, contract_id=contract_id, delivery_id=delivery_id,
                                            accept=False, note=data.note)
        return delivery_read(row)

    @get("/{contract_id:uuid}/documents", summary="Documents (SHA-256 of each)")
    async def list_documents(self, actor: ActorDep, contract_id: FromPath[UUID]) -> list[DocumentRead]:
        row = await service.contract_detail(actor=actor, contract_id=contract_id)
        return [document_read(d) for d in row["documents"]]

    @post("/{contract_id:uuid}/documents", summary="Add a document by its SHA-256")
    async def add_document(self, actor: ActorDep, contract_id: FromPath[UUID],
                           data: JSONBody[DocumentCreate]) -> DocumentRead:
        row = await service.add_document(actor=actor, contract_id=contract_id, data=data)
        return document_read(row)


ROUTES = [ContractsController]
