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
                              categories: list[str] | None = None,
                              roles: tuple[str, ...] = ("supplier_admin", "bidder"),
                              until=None) -> Login:
    """A supplier registered as by POST /api/v1/suppliers, moved to `status`, and a token for its admin."""
    n = next(_seq)
    email = f"supplier{n}-{id(settings) % 1000}@example.pe"
    data = SupplierCreate(
        ruc=ruc or make_ruc("20"), legal_name=name or f"Proveedor {n} S.A.C.", ubigeo=ubigeo, mype=mype,
        contact=Contact(name="Contacto", email=email), admin=AdminUser(email=email, password=PASSWORD),
        categories=categories or [])
    async with db.unit_of_work():
        registration = await service.register(actor=Actor(), data=data)
        org_id, user_id = registration.supplier.id, registration.admin_user_id
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


async def catalog_with_product(client, settings, *, code: str | None = None, name: str = "Papel bond A4 80 g",
                               classification: str = "14111507",
                               unit: str = "paquete x 500") -> tuple[dict, dict, Login]:
    """A catalogue with one product sheet, created over HTTP by a platform admin."""
    from tests import factories

    admin = await factories.login(settings, "platform", "admin")
    r = await client.post("/api/v1/catalogs", json={"code": code or f"AM-{next(_seq):04d}",
                                                    "name": "Útiles de oficina"}, headers=admin.headers)
    assert r.status_code == 201, r.text
    catalog = r.json()
    r = await client.post(f"/api/v1/catalogs/{catalog['id']}/products", headers=admin.headers, json={
        "name": name, "classification_code": classification, "unit": unit,
        "attributes": {"gramaje": 80, "formato": "A4", "color": "blanco"}})
    assert r.status_code == 201, r.text
    return catalog, r.json(), admin


async def offer(client, supplier: Login, product: dict, regions: dict[str, tuple[int, int, int]]) -> dict:
    """An offer over HTTP; regions maps a region code to (unit price in céntimos, delivery_days, stock)."""
    r = await client.post(f"/api/v1/suppliers/{supplier.org_id}/offers", headers=supplier.headers, json={
        "product_sheet_id": product["id"], "brand": "Atlas",
        "regions": [{"region_code": k, "price": {"amount": p, "currency": "PEN"}, "delivery_days": d, "stock": s}
                    for k, (p, d, s) in regions.items()]})
    assert r.status_code == 201, r.text
    return r.json()
