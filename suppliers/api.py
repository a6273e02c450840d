"""Supplier registry endpoints: self-registration, the public registry, registry decisions."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from marketplace.core import ratelimit
from marketplace.core.auth import service as auth
from marketplace.core.deps import ActorDep, SettingsDep
from marketplace.core.i18n import N_, gettext
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

REGISTRATION_RECEIVED = N_("Registration received. If the RUC and the email were not registered yet, sign in "
                           "with the administrator's email and password to follow it.")


class RegistrationReceived(msgspec.Struct):
    """The answer to every accepted registration (the same whether or not the RUC or email existed)."""

    status: str
    detail: str


class SupplierController(Controller):
    path = "/api/v1/suppliers"
    tags = ["suppliers"]

    @post("/", status_code=202, security=[],
          summary="Register as a supplier (public): creates the organisation, its pending registry entry and its "
                  "first administrator. The answer is the same whether or not the RUC or email was registered "
                  "already; sign in with the administrator's email to follow the registration (rate limited: 429)")
    async def register(self, request: Request[Any, Any, Any], data: JSONBody[SupplierCreate], actor: ActorDep,
                       settings: SettingsDep) -> RegistrationReceived:
        limits = settings.security
        await ratelimit.hit("register-ip", auth.client_address(request, limits.trusted_proxy_hops),
                            limit=limits.rate_limit_register_per_ip, window=limits.rate_limit_window_seconds)
        await service.register_public(actor=actor, data=data)
        return RegistrationReceived(status="received", detail=gettext(REGISTRATION_RECEIVED))

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
