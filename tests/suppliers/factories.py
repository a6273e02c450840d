"""Suppliers for tests: registered through the service, approved, with a signed-in user.

Other domains' tests may use these too:

    from tests.suppliers.factories import active_supplier
    sup = await active_supplier(settings, ubigeo="080101", mype=True)   # -> tests.factories.Login
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from marketplace.core import clock, db
from marketplace.core.actor import SYSTEM, Actor
from marketplace.core.auth import tokens
from suppliers import service
from suppliers.schemas import AdminUser, Contact, SupplierCreate
from tests.factories import PASSWORD, Login, make_ruc

_seq = itertools.count(1)


async def registered_supplier(settings, *, ruc: str | None = None, name: str | None = None,
                              ubigeo: str = "150101", mype: bool = False, status: str = "active",
                              categories: list[str] | None = None, roles: tuple[str, ...] = ("supplier_admin", "bidder"),
                              until=None) -> Login:
    """A supplier registered as by POST /api/v1/suppliers, moved to `status`, and a token for its admin."""
    n = next(_seq)
    email = f"supplier{n}-{id(settings) % 1000}@example.pe"
    data = SupplierCreate(
        ruc=ruc or make_ruc("20"), legal_name=name or f"Proveedor {n} S.A.C.", ubigeo=ubigeo, mype=mype,
        contact=Contact(name="Contacto", email=email), admin=AdminUser(email=email, password=PASSWORD),
        categories=categories or [])
    async with db.unit_of_work():
        row = await service.register(actor=Actor(), data=data)
        org_id, user_id = row["organisation_id"], row["admin_user_id"]
        if status != "pending":
            await service.approve_registration(actor=SYSTEM, org_id=org_id, reason="test")
        if status == "suspended" and until is None:
            until = clock.now() + timedelta(days=30)
        if status in ("suspended", "disqualified"):
            await service.change_status(actor=SYSTEM, org_id=org_id, status=status, reason="test", until=until)
    token, _ = tokens.issue(secret=settings.keys.jwt_secret, ttl_seconds=settings.jwt_ttl_seconds,
                            user_id=user_id, org_id=org_id, org_kind="supplier", roles=list(roles))
    return Login(user_id=user_id, org_id=org_id, kind="supplier", roles=tuple(roles), email=email, token=token)


async def active_supplier(settings, **kw) -> Login:
    return await registered_supplier(settings, status="active", **kw)
