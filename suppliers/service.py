"""Supplier registry use cases, and the functions other domains call.

Called by other domains (keyword-only, no actor: they are internal checks on public registry facts):

- `require_good_standing(org_id=...) -> SupplierStanding`: raises SupplierPending / SupplierSuspended /
  SupplierDisqualified / SupplierNotRegistered (403, problem types 'supplier-pending', 'supplier-suspended',
  'supplier-disqualified', 'supplier-not-registered'). Takes a share lock on the supplier row in the
  current transaction, so a bid or an order and a concurrent suspension are ordered by the lock.
- `get_supplier(org_id=...) -> SupplierStanding` (NotFound if the organisation is not a registered supplier)
  and `get_suppliers(org_ids=[...]) -> dict[UUID, SupplierStanding]`, for evaluation (domicile, MYPE).
- `approve_registration(actor=..., org_id=..., reason=...)`: the registry fee is paid (payments, with the
  system actor) or a platform administrator approves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from marketplace.core import audit, clock, db, geo, outbox
from marketplace.core.actor import SYSTEM, Actor, require, require_authenticated, require_member
from marketplace.core.auth import service as auth
from marketplace.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.core.i18n import N_
from suppliers import domain
from suppliers.domain import Status
from suppliers.schemas import SupplierCreate, SupplierUpdate

TOPIC_REGISTERED = "supplier.registered"
TOPIC_STATUS_CHANGED = "supplier.status_changed"
TOPIC_UPDATED = "supplier.updated"


class SupplierStanding(msgspec.Struct, frozen=True):
    """A registered supplier as other domains see it. `status` is the effective status now (a suspension
    past its end date counts as active)."""

    org_id: UUID
    ruc: str
    legal_name: str
    ubigeo: str
    mype: bool
    status: str
    person_type: str
    suspended_until: datetime | None = None

    @property
    def in_good_standing(self) -> bool:
        return self.status == Status.ACTIVE


_COLUMNS = ("s.organisation_id, s.ruc, s.legal_name, s.ubigeo, s.person_type, s.mype, s.status, s.status_reason,"
            " s.suspended_until, s.contact_name, s.contact_email, s.contact_phone, s.categories,"
            " s.registered_at, s.status_changed_at, s.updated_at")


def _standing(row: dict[str, Any]) -> SupplierStanding:
    status = domain.effective_status(row["status"], row["suspended_until"], clock.now())
    return SupplierStanding(
        org_id=row["organisation_id"], ruc=row["ruc"], legal_name=row["legal_name"], ubigeo=row["ubigeo"],
        mype=row["mype"], status=status.value, person_type=row["person_type"],
        suspended_until=row["suspended_until"] if status is Status.SUSPENDED else None)


async def require_good_standing(*, org_id: UUID) -> SupplierStanding:
    """The supplier, if it may bid and sell now; else a SupplierNotInGoodStanding error (403)."""
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM supplier s WHERE s.organisation_id = $1 FOR SHARE", org_id)
    check_standing(row)
    assert row is not None
    return _standing(row)


def check_standing(row: dict[str, Any] | None, now: datetime | None = None) -> None:
    """Raise the SupplierNotInGoodStanding error (403) for a supplier row (`status`, `suspended_until`; None:
    not registered) that may not bid or sell at `now` (default: the clock's now)."""
    if row is None or row["status"] is None:
        raise domain.SupplierNotRegistered(N_("The organisation is not in the supplier registry"))
    status = domain.effective_status(row["status"], row["suspended_until"], now or clock.now())
    error = domain.standing_error(status, row["suspended_until"] if status is Status.SUSPENDED else None)
    if error is not None:
        raise error


def good_standing_sql(alias: str, now: str) -> str:
    """SQL true when the supplier row `alias` may bid and sell at `now` (a placeholder): the twin of
    `check_standing`, for a writer that decides inside its own statement."""
    return domain.good_standing_sql(alias, now)


async def get_supplier(*, org_id: UUID) -> SupplierStanding:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM supplier s WHERE s.organisation_id = $1", org_id)
    if row is None:
        raise NotFound(N_("Supplier not found"))
    return _standing(row)


async def get_suppliers(*, org_ids: list[UUID]) -> dict[UUID, SupplierStanding]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM supplier s WHERE s.organisation_id = ANY($1::uuid[])",
                          list(org_ids))
    return {r["organisation_id"]: _standing(r) for r in rows}


# ---------------------------------------------------------------------------------------------- registration

def _check_ubigeo(ubigeo: str, field: str = "ubigeo") -> str:
    if not geo.is_valid_ubigeo(ubigeo):
        raise InvalidInput(N_("{code} is not a Peruvian ubigeo (INEI district code)"), field=field,
                           rule="ubigeo", params={"code": ubigeo})
    if ubigeo.endswith("00"):
        raise InvalidInput(N_("The domicile must be a district (its 6-digit ubigeo), not a province or region"),
                           field=field, rule="district")
    return ubigeo


def _categories(codes: list[str]) -> list[str]:
    return sorted(set(codes))


async def register(*, actor: Actor, data: SupplierCreate) -> dict[str, Any]:
    """Public self-registration: the organisation, its pending registry entry and its first administrator."""
    ruc, person_type = domain.validate_ruc(data.ruc)
    ubigeo = _check_ubigeo(data.ubigeo)
    legal_name = " ".join(data.legal_name.split())
    if not legal_name:
        raise InvalidInput(N_("The legal name is empty"), field="legal_name", rule="required")
    if await db.fetchrow("SELECT 1 FROM organisation WHERE ruc = $1", ruc):
        raise Conflict(N_("RUC {ruc} is already registered"), field="ruc", rule="unique", params={"ruc": ruc})
    if await db.fetchrow("SELECT 1 FROM app_user WHERE lower(email) = lower($1)", data.admin.email):
        raise Conflict(N_("A user with this email already exists"), field="admin.email", rule="unique")
    now = clock.now()
    try:
        org_id = await auth.create_organisation(kind="supplier", name=legal_name, ruc=ruc, ubigeo=ubigeo)
        user_id = await auth.create_user(organisation_id=org_id, email=data.admin.email,
                                         password=data.admin.password, roles=["supplier_admin", "bidder"],
                                         full_name=data.admin.full_name)
    except asyncpg.UniqueViolationError as exc:  # a concurrent registration of the same RUC or email
        if "email" in (exc.constraint_name or ""):
            raise Conflict(N_("A user with this email already exists"), field="admin.email",
                           rule="unique") from None
        raise Conflict(N_("RUC {ruc} is already registered"), field="ruc", rule="unique",
                       params={"ruc": ruc}) from None
    await db.execute(
        "INSERT INTO supplier (organisation_id, ruc, legal_name, ubigeo, person_type, mype, status,"
        " contact_name, contact_email, contact_phone, categories, registered_at, status_changed_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10, $11, $11, $11)",
        org_id, ruc, legal_name, ubigeo, person_type, data.mype, data.contact.name, data.contact.email,
        data.contact.phone, _categories(data.categories), now,
    )
    who = Actor(user_id=user_id, org_id=org_id, org_kind="supplier", roles=frozenset({"supplier_admin"}),
                via=actor.via)
    await audit.record(actor=who, action="supplier.registered", entity_type="supplier", entity_id=org_id,
                       data={"ruc": ruc, "legal_name": legal_name, "ubigeo": ubigeo, "mype": data.mype})
    await outbox.emit(topic=TOPIC_REGISTERED, aggregate_type="supplier", aggregate_id=org_id,
                      payload={"supplier_org_id": str(org_id), "ruc": ruc, "status": Status.PENDING.value})
    row = await _row(org_id)
    assert row is not None
    return {**row, "admin_user_id": user_id}


# ---------------------------------------------------------------------------------------------- reads

def can_see_contact(actor: Actor, org_id: UUID) -> bool:
    return actor.member_of(org_id) or actor.org_kind in ("agency", "oversight", "platform")


def _can_see_pending(actor: Actor, org_id: UUID) -> bool:
    return actor.member_of(org_id) or actor.org_kind in ("oversight", "platform")


async def _row(org_id: UUID) -> dict[str, Any] | None:
    return await db.fetchrow(f"SELECT {_COLUMNS} FROM supplier s WHERE s.organisation_id = $1", org_id)


async def read_supplier(*, actor: Actor, org_id: UUID) -> dict[str, Any]:
    """The registry entry. Public for registered suppliers (the registry and its sanctions are public);
    a pending registration only to itself, oversight and the platform."""
    row = await _row(org_id)
    if row is None or (row["status"] == Status.PENDING and not _can_see_pending(actor, org_id)):
        raise NotFound(N_("Supplier not found"))
    return row


async def list_suppliers(*, actor: Actor, status: str | None = None, region: str | None = None,
                         category: str | None = None, q: str | None = None, mype: bool | None = None,
                         limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    where, args = [], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if status:
        where.append(f"s.status = {arg(status)}")
    if not (actor.org_kind in ("oversight", "platform") or actor.via == "system"):
        # pending registrations are not public (a supplier sees its own)
        where.append(f"(s.status <> 'pending' OR s.organisation_id = {arg(actor.org_id)}::uuid)"
                     if actor.org_id else "s.status <> 'pending'")
    if region:
        where.append(f"left(s.ubigeo, 2) = {arg(region)}")
    if category:
        # a supplier supplying 4321 supplies 43211503; one supplying 43211503 matches a search for 4321
        where.append(f"EXISTS (SELECT 1 FROM unnest(s.categories) c WHERE starts_with({arg(category)}, c)"
                     f" OR starts_with(c, {arg(category)}))")
    if mype is not None:
        where.append(f"s.mype = {arg(mype)}")
    if q:
        where.append(f"(s.legal_name ILIKE {arg('%' + q.replace('%', '').replace('_', '') + '%')}"
                     f" OR s.ruc = {arg(q.strip())})")
    sql_where = (" WHERE " + " AND ".join(where)) if where else ""
    total = (await db.fetchrow(f"SELECT count(*) AS n FROM supplier s{sql_where}", *args))["n"]
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM supplier s{sql_where} ORDER BY s.legal_name, s.organisation_id"
        f" LIMIT {arg(limit)} OFFSET {arg(offset)}", *args)
    return rows, total


async def status_history(*, actor: Actor, org_id: UUID) -> list[dict[str, Any]]:
    await read_supplier(actor=actor, org_id=org_id)
    return await db.fetch(
        "SELECT from_status, to_status, reason, suspended_until, changed_at FROM supplier_status_change"
        " WHERE supplier_id = $1 ORDER BY id", org_id)


# ---------------------------------------------------------------------------------------------- writes

async def update_supplier(*, actor: Actor, org_id: UUID, data: SupplierUpdate) -> dict[str, Any]:
    """The supplier's administrator (or a platform administrator) changes contact, categories, MYPE, domicile."""
    require(actor, ("supplier", "platform"), "supplier_admin", "admin")
    if actor.org_kind == "supplier":
        require_member(actor, org_id)
    row = await db.fetchrow("SELECT organisation_id FROM supplier WHERE organisation_id = $1 FOR UPDATE", org_id)
    if row is None:
        raise NotFound(N_("Supplier not found"))
    sets, args, changed = [], [org_id], {}

    def put(column: str, value: Any) -> None:
        args.append(value)
        sets.append(f"{column} = ${len(args)}")
        changed[column] = value

    if data.contact is not None:
        put("contact_name", data.contact.name)
        put("contact_email", data.contact.email)
        put("contact_phone", data.contact.phone)
    if data.mype is not None:
        put("mype", data.mype)
    if data.categories is not None:
        put("categories", _categories(data.categories))
    if data.ubigeo is not None:
        put("ubigeo", _check_ubigeo(data.ubigeo))
        await db.execute("UPDATE organisation SET ubigeo = $2 WHERE id = $1", org_id, data.ubigeo)
    if sets:
        put("updated_at", clock.now())
        await db.execute(f"UPDATE supplier SET {', '.join(sets)} WHERE organisation_id = $1", *args)
        await audit.record(actor=actor, action="supplier.updated", entity_type="supplier", entity_id=org_id,
                           data={k: v for k, v in changed.items() if k != "updated_at"})
        await outbox.emit(topic=TOPIC_UPDATED, aggregate_type="supplier", aggregate_id=org_id,
                          payload={"supplier_org_id": str(org_id), "fields": sorted(changed)})
        if {"mype", "ubigeo"} & changed.keys():
            from suppliers.catalog import events as offer_events

            await offer_events.emit_supplier_offers(supplier_id=org_id, change="supplier_updated")
    result = await _row(org_id)
    assert result is not None
    return result


async def change_status(*, actor: Actor, org_id: UUID, status: str, reason: str,
                        until: datetime | None = None) -> dict[str, Any]:
    """A registry decision: approve, suspend (until a date), reinstate or disqualify, with a reason.

    Only the platform's administrators and oversight bodies decide; approving a pending registration is the
    platform's (or the payment of the registry fee, by the system). Audited, and announced on the outbox:
    'supplier.status_changed', plus 'offer.deleted' / 'offer.upserted' for each of its offers, so that a
    suspended supplier's offers leave search and come back when it is reinstated.
    """
    require(actor, ("platform", "oversight"), "admin", "auditor")
    new = Status(status)
    reason = reason.strip()
    if len(reason) < 3:
        raise InvalidInput(N_("Give the reason for this decision"), field="reason", rule="required")
    now = clock.now()
    if new is Status.SUSPENDED:
        if until is None:
            raise InvalidInput(N_("A suspension needs its end date"), field="until", rule="required")
        if until.tzinfo is None:
            raise InvalidInput(N_("Give the date with its time zone (RFC 3339)"), field="until", rule="timezone")
        if until <= now:
            raise InvalidInput(N_("The end of the suspension must be in the future"), field="until",
                               rule="future")
    elif until is not None:
        raise InvalidInput(N_("Only a suspension has an end date"), field="until", rule="forbidden")
    row = await db.fetchrow("SELECT status, suspended_until FROM supplier WHERE organisation_id = $1 FOR UPDATE",
                            org_id)
    if row is None:
        raise NotFound(N_("Supplier not found"))
    current = Status(row["status"])
    if current is Status.PENDING and new is Status.ACTIVE and not (
            actor.via == "system" or actor.is_("platform", "admin")):
        raise Forbidden(N_("Only the platform approves a registration (or the payment of the registry fee)"))
    domain.check_transition(current, new)
    await _set_status(actor=actor, org_id=org_id, current=current, new=new, reason=reason, until=until, now=now)
    result = await _row(org_id)
    assert result is not None
    return result


async def _set_status(*, actor: Actor, org_id: UUID, current: Status, new: Status, reason: str,
                      until: datetime | None, now: datetime) -> None:
    await db.execute(
        "UPDATE supplier SET status = $2, status_reason = $3, suspended_until = $4, status_changed_at = $5,"
        " updated_at = $5 WHERE organisation_id = $1", org_id, new.value, reason, until, now)
    await db.execute(
        "INSERT INTO supplier_status_change (supplier_id, from_status, to_status, reason, suspended_until,"
        " actor_user_id, actor_org_id, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        org_id, current.value, new.value, reason, until, actor.user_id, actor.org_id, now)
    await audit.record(actor=actor, action=f"supplier.status.{new.value}", entity_type="supplier",
                       entity_id=org_id, data={"from": current.value, "to": new.value, "reason": reason,
                                               "until": until.isoformat() if until else None})
    await outbox.emit(topic=TOPIC_STATUS_CHANGED, aggregate_type="supplier", aggregate_id=org_id, payload={
        "supplier_org_id": str(org_id), "status": new.value, "previous": current.value,
        "searchable": new is Status.ACTIVE, "suspended_until": until.isoformat() if until else None})
    was_visible, visible = current is Status.ACTIVE, new is Status.ACTIVE
    if was_visible != visible:
        from suppliers.catalog import events as offer_events

        await offer_events.emit_supplier_offers(supplier_id=org_id,
                                                change="supplier_" + new.value if not visible else "supplier_active")


async def approve_registration(*, actor: Actor, org_id: UUID, reason: str = "registry fee paid") -> dict[str, Any]:
    """Pending -> active: the registry fee was paid (payments, as the system actor) or the platform approves."""
    return await change_status(actor=actor, org_id=org_id, status=Status.ACTIVE.value, reason=reason)


async def end_due_suspensions(*, limit: int = 500) -> int:
    """Reinstate suppliers whose suspension has ended (the sweeper job); returns how many."""
    require_authenticated(SYSTEM)
    now = clock.now()
    rows = await db.fetch(
        "SELECT organisation_id FROM supplier WHERE status = 'suspended' AND suspended_until <= $1"
        " ORDER BY suspended_until LIMIT $2 FOR UPDATE SKIP LOCKED", now, limit)
    for r in rows:
        await _set_status(actor=SYSTEM, org_id=r["organisation_id"], current=Status.SUSPENDED, new=Status.ACTIVE,
                          reason="suspension ended", until=None, now=now)
    return len(rows)
