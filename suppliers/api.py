"""Supplier registry endpoints: self-registration, the public registry, registry decisions."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from marketplace.core import geo
from marketplace.core.actor import Actor
from marketplace.core.deps import ActorDep
from suppliers import service
from suppliers.schemas import (
    ContactRead,
    StatusChange,
    StatusChangeRead,
    SupplierCreate,
    SupplierPage,
    SupplierRead,
    SupplierUpdate,
)


def supplier_read(row: dict[str, Any], actor: Actor) -> SupplierRead:
    contact = None
    if service.can_see_contact(actor, row["organisation_id"]):
        contact = ContactRead(name=row["contact_name"], email=row["contact_email"], phone=row["contact_phone"])
    return SupplierRead(
        id=row["organisation_id"], ruc=row["ruc"], legal_name=row["legal_name"], person_type=row["person_type"],
        ubigeo=row["ubigeo"], region=row["ubigeo"][:2], place=geo.display_name(row["ubigeo"]), mype=row["mype"],
        status=row["status"], status_reason=row["status_reason"], suspended_until=row["suspended_until"],
        categories=list(row["categories"]), registered_at=row["registered_at"],
        status_changed_at=row["status_changed_at"], contact=contact,
    )


class SupplierController(Controller):
    path = "/api/v1/suppliers"
    tags = ["suppliers"]

    @post("/", summary="Register as a supplier (public): creates the organisation, its pending registry entry "
                       "and its first administrator", security=[])
    async def register(self, data: JSONBody[SupplierCreate], actor: ActorDep) -> SupplierRead:
        row = await service.register(actor=actor, data=data)
        return supplier_read(row, Actor(org_id=row["organisation_id"], org_kind="supplier"))

    @get("/", summary="The supplier registry (pending registrations only for oversight and the platform)")
    async def list_suppliers(
        self, actor: ActorDep,
        status: Annotated[str | None, QueryParameter(pattern="^(pending|active|suspended|disqualified)$")] = None,
        region: Annotated[str | None, QueryParameter(pattern="^[0-9]{2}$")] = None,
        category: Annotated[str | None, QueryParameter(pattern="^[0-9]{2,8}(-[0-9])?$")] = None,
        mype: FromQuery[bool | None] = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
    ) -> SupplierPage:
        rows, total = await service.list_suppliers(actor=actor, status=status, region=region, category=category,
                                                   mype=mype, q=q, limit=limit, offset=offset)
        return SupplierPage(items=[supplier_read(r, actor) for r in rows], total=total, limit=limit, offset=offset)

    @get("/{supplier_id:uuid}", summary="A supplier's registry entry")
    async def read(self, supplier_id: FromPath[UUID], actor: ActorDep) -> SupplierRead:
        return supplier_read(await service.read_supplier(actor=actor, org_id=supplier_id), actor)

    @patch("/{supplier_id:uuid}", summary="Change contact, categories, MYPE flag or domicile (the supplier's "
                                          "administrator)")
    async def update(self, supplier_id: FromPath[UUID], data: JSONBody[SupplierUpdate],
                     actor: ActorDep) -> SupplierRead:
        row = await service.update_supplier(actor=actor, org_id=supplier_id, data=data)
        return supplier_read(row, actor)

    @post("/{supplier_id:uuid}/status", status_code=200,
          summary="A registry decision with its reason: approve, suspend until a date, reinstate, disqualify "
                  "(platform administrators and oversight bodies)")
    async def change_status(self, supplier_id: FromPath[UUID], data: JSONBody[StatusChange],
                            actor: ActorDep) -> SupplierRead:
        row = await service.change_status(actor=actor, org_id=supplier_id, status=data.status,
                                          reason=data.reason, until=data.until)
        return supplier_read(row, actor)

    @get("/{supplier_id:uuid}/status-history", summary="Every registry decision on this supplier")
    async def status_history(self, supplier_id: FromPath[UUID], actor: ActorDep) -> list[StatusChangeRead]:
        rows = await service.status_history(actor=actor, org_id=supplier_id)
        return [StatusChangeRead(**r) for r in rows]


def _routes() -> list[Any]:
    from suppliers.alerts import api as alerts_api
    from suppliers.catalog import api as catalog_api

    return [SupplierController, *catalog_api.ROUTES, *alerts_api.ROUTES]


ROUTES: list[Any] = _routes()
