"""/api/v1/contracts: contracts, milestones, amendments, deliveries (conformidad), documents, balances."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from marketplace.contracts import domain, service
from marketplace.contracts.queries import (
    AmendmentRow,
    Balance,
    ContractRow,
    DeliveryRow,
    Detail,
    DocumentRow,
    MilestoneRow,
)
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
from marketplace.core.deps import ActorDep, SettingsDep
from marketplace.core.money import money, score
from marketplace.payments.schemas import PaymentRead, payment_read


def contract_read(c: ContractRow) -> ContractRead:
    currency = c.currency.strip()
    guarantee = None
    if c.guarantee_kind and c.guarantee_expires_on:
        guarantee = Guarantee(kind=c.guarantee_kind, amount=money(c.guarantee_amount_cents or 0, currency),
                              issuer=c.guarantee_issuer or "", reference=c.guarantee_reference or "",
                              expires_on=c.guarantee_expires_on)
    return ContractRead(
        id=c.id, source_type=c.source_type, source_id=c.source_id, tender_id=c.tender_id, lot_id=c.lot_id,
        agency_org_id=c.agency_org_id, supplier_org_id=c.supplier_org_id, title=c.title,
        original_value=money(c.original_value_cents, currency), value=money(c.value_cents, currency),
        period_start=c.period_start, period_end=c.period_end, state=c.state,
        cumulative_change_pct=score(c.cumulative_change_pct), flagged=domain.flagged(c.cumulative_change_pct),
        guarantee=guarantee, signed_at=c.signed_at, completed_at=c.completed_at, terminated_at=c.terminated_at,
        termination_reason=c.termination_reason, created_at=c.created_at, updated_at=c.updated_at)


def milestone_read(m: MilestoneRow, currency: str = "PEN") -> MilestoneRead:
    return MilestoneRead(id=m.id, contract_id=m.contract_id, seq=m.seq, deliverable=m.deliverable,
                         due_date=m.due_date, amount=money(m.amount_cents, currency), state=m.state,
                         accepted_at=m.accepted_at, paid_at=m.paid_at)


def amendment_read(a: AmendmentRow, currency: str = "PEN") -> AmendmentRead:
    return AmendmentRead(
        id=a.id, contract_id=a.contract_id, seq=a.seq, reason=a.reason,
        value_change=money(a.value_change_cents, currency), previous_value=money(a.previous_value_cents, currency),
        new_value=money(a.new_value_cents, currency), previous_period_end=a.previous_period_end,
        new_period_end=a.new_period_end, change_pct=score(a.change_pct),
        cumulative_change_pct=score(a.cumulative_change_pct), flagged=domain.flagged(a.cumulative_change_pct),
        created_at=a.created_at)


def delivery_read(d: DeliveryRow) -> DeliveryRead:
    return DeliveryRead(id=d.id, contract_id=d.contract_id, milestone_id=d.milestone_id, note=d.note, state=d.state,
                        submitted_at=d.submitted_at, decided_at=d.decided_at, decision_note=d.decision_note)


def document_read(d: DocumentRow) -> DocumentRead:
    return DocumentRead(id=d.id, contract_id=d.contract_id, name=d.name, media_type=d.media_type, sha256=d.sha256,
                        url=d.url, created_at=d.created_at)


def balance_read(b: Balance) -> BalanceRead:
    return BalanceRead(contract_id=b.contract_id, value=money(b.value_cents, b.currency),
                       paid=money(b.paid_cents, b.currency), outstanding=money(b.outstanding_cents, b.currency),
                       entries=b.entries)


def detail_read(d: Detail) -> ContractDetail:
    base = contract_read(d.contract)
    currency = d.contract.currency.strip()
    return ContractDetail(
        **{f: getattr(base, f) for f in ContractRead.__struct_fields__},
        milestones=[milestone_read(m, currency) for m in d.milestones],
        amendments=[amendment_read(a, currency) for a in d.amendments],
        deliveries=[delivery_read(x) for x in d.deliveries], documents=[document_read(x) for x in d.documents],
        balance=balance_read(d.balance), payments=[payment_read(p) for p in d.payments])


class ContractsController(Controller):
    path = "/api/v1/contracts"
    tags = ["contracts"]

    @get("/", summary="Contracts the caller may see (its agency's or supplier's; oversight sees all)")
    async def list_contracts(
        self, actor: ActorDep, contract_state: Annotated[str | None, QueryParameter(name="state")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> list[ContractRead]:
        found = await service.list_contracts(actor=actor, state=contract_state, limit=limit, offset=offset)
        return [contract_read(c) for c in found]

    @post("/", summary="The contract of a consented award or an accepted order (201 new, 200 existing)")
    async def create(self, actor: ActorDep, data: JSONBody[ContractCreate]) -> Response[ContractRead]:
        row, created = await service.create(actor=actor, source_type=data.source_type, source_id=data.source_id)
        return Response(contract_read(row), status_code=201 if created else 200)

    @get("/{contract_id:uuid}", summary="A contract with its milestones, amendments, deliveries, documents, balance "
                                         "and payments (each with its state, and why it failed when it did)")
    async def detail(self, actor: ActorDep, contract_id: FromPath[UUID]) -> ContractDetail:
        return detail_read(await service.contract_detail(actor=actor, contract_id=contract_id))

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
        c = await service.get_contract(actor=actor, contract_id=contract_id)
        return [milestone_read(m, c.currency.strip()) for m in await service.milestones(contract_id=contract_id)]

    @post("/{contract_id:uuid}/milestones", summary="Add a milestone (deliverable, due date, amount)")
    async def add_milestone(self, actor: ActorDep, contract_id: FromPath[UUID],
                            data: JSONBody[MilestoneCreate]) -> MilestoneRead:
        return milestone_read(await service.add_milestone(actor=actor, contract_id=contract_id, data=data))

    @post("/{contract_id:uuid}/milestones/{milestone_id:uuid}/payments", status_code=202,
          summary="Pay an accepted milestone (Stripe Connect, or a treasury transfer with its reference). "
                  "Send an Idempotency-Key. Through Stripe: 503 payments-not-configured, writing nothing, when "
                  "the Stripe settings are missing.")
    async def pay_milestone(self, request: Request[Any, Any, Any], actor: ActorDep, settings: SettingsDep,
                            contract_id: FromPath[UUID],
                            milestone_id: FromPath[UUID],
                            data: JSONBody[MilestonePayment]) -> Response[PaymentRead]:
        claim = await idempotency.claim(
            actor=actor, route="POST /api/v1/contracts/{id}/milestones/{mid}/payments",
            key=request.headers.get(idempotency.HEADER),
            request=(str(contract_id), str(milestone_id), msgspec.to_builtins(data)))
        if claim.replay is None:
            row = await service.pay_milestone(actor=actor, settings=settings, contract_id=contract_id,
                                              milestone_id=milestone_id, external_reference=data.external_reference)
            body = msgspec.to_builtins(payment_read(row))
            await claim.store(status=202, response=body)
        if claim.replay is not None:
            return Response(claim.replay.response, status_code=claim.replay.status)
        return Response(body, status_code=202)

    @get("/{contract_id:uuid}/amendments", summary="Amendments, with the cumulative change in %")
    async def list_amendments(self, actor: ActorDep, contract_id: FromPath[UUID]) -> list[AmendmentRead]:
        c = await service.get_contract(actor=actor, contract_id=contract_id)
        return [amendment_read(a, c.currency.strip()) for a in await service.amendments(contract_id=contract_id)]

    @post("/{contract_id:uuid}/amendments", summary="Amend the value and/or the term, with a reason")
    async def amend(self, actor: ActorDep, contract_id: FromPath[UUID],
                    data: JSONBody[AmendmentCreate]) -> AmendmentRead:
        return amendment_read(await service.amend(actor=actor, contract_id=contract_id, data=data))

    @get("/{contract_id:uuid}/payments", summary="The contract's payments, oldest first (each with its state, "
                                                  "and why it failed when it did)")
    async def list_payments(self, actor: ActorDep, contract_id: FromPath[UUID]) -> list[PaymentRead]:
        return [payment_read(p) for p in await service.contract_payments(actor=actor, contract_id=contract_id)]

    @get("/{contract_id:uuid}/deliveries", summary="Deliveries and their acceptance")
    async def list_deliveries(self, actor: ActorDep, contract_id: FromPath[UUID]) -> list[DeliveryRead]:
        await service.get_contract(actor=actor, contract_id=contract_id)
        return [delivery_read(d) for d in await service.deliveries(contract_id=contract_id)]

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
        await service.get_contract(actor=actor, contract_id=contract_id)
        return [document_read(d) for d in await service.documents(contract_id=contract_id)]

    @post("/{contract_id:uuid}/documents", summary="Add a document by its SHA-256")
    async def add_document(self, actor: ActorDep, contract_id: FromPath[UUID],
                           data: JSONBody[DocumentCreate]) -> DocumentRead:
        row = await service.add_document(actor=actor, contract_id=contract_id, data=data)
        return document_read(row)


ROUTES = [ContractsController]
