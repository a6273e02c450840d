"""Supplier registry endpoints: self-registration, the public registry, registry decisions."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from marketplace.core.deps import ActorDep
from suppliers import service
from suppliers.alerts import api as alerts_api
from suppliers.catalog import api as catalog_api
from suppliers.schemas import (
    FactChangeRead,
    StatusChange,
    StatusChangeRead,
    SupplierCreate,
    SupplierPage,
    SupplierRead,
    SupplierUpdate,
)


class SupplierController(Controller):
    path = "/api/v1/suppliers"
    tags = ["suppliers"]

    @post("/", summary="Register as a supplier (public): creates the organisation, its pending registry entry "
                       "and its first administrator", security=[])
    async def register(self, data: JSONBody[SupplierCreate], actor: ActorDep) -> SupplierRead:
        return (await service.register(actor=actor, data=data)).supplier

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
        return await service.list_suppliers(actor=actor, status=status, region=region, category=category,
                                            mype=mype, q=q, limit=limit, offset=offset)

    @get("/{supplier_id:uuid}", summary="A supplier's registry entry")
    async def read(self, supplier_id: FromPath[UUID], actor: ActorDep) -> SupplierRead:
        return await service.read_supplier(actor=actor, org_id=supplier_id)

    @patch("/{supplier_id:uuid}", summary="Change contact, categories, MYPE flag or domicile (the supplier's "
                                          "administrator)")
    async def update(self, supplier_id: FromPath[UUID], data: JSONBody[SupplierUpdate],
                     actor: ActorDep) -> SupplierRead:
        return await service.update_supplier(actor=actor, org_id=supplier_id, data=data)

    @post("/{supplier_id:uuid}/status", status_code=200,
          summary="A registry decision with its reason: approve, suspend until a date, reinstate, disqualify "
                  "(platform administrators and oversight bodies)")
    async def change_status(self, supplier_id: FromPath[UUID], data: JSONBody[StatusChange],
                            actor: ActorDep) -> SupplierRead:
        return await service.change_status(actor=actor, org_id=supplier_id, status=data.status,
                                           reason=data.reason, until=data.until)

    @get("/{supplier_id:uuid}/status-history", summary="Every registry decision on this supplier")
    async def status_history(self, supplier_id: FromPath[UUID], actor: ActorDep) -> list[StatusChangeRead]:
        return await service.status_history(actor=actor, org_id=supplier_id)

    @get("/{supplier_id:uuid}/facts-history", summary="The supplier's MYPE status and domicile over time, each "
                                                     "value with its source and effective date (public)")
    async def facts_history(self, supplier_id: FromPath[UUID], actor: ActorDep) -> list[FactChangeRead]:
        return await service.facts_history(actor=actor, org_id=supplier_id)


ROUTES: list[Any] = [SupplierController, *catalog_api.ROUTES, *alerts_api.ROUTES]
