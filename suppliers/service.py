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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from piccolo.columns import Column
from piccolo.columns.combination import Or, WhereRaw
from piccolo.query.functions.string import Lower

from marketplace.core import audit, clock, db, geo, outbox
from marketplace.core.actor import SYSTEM, Actor, require, require_authenticated, require_member
from marketplace.core.auth import service as auth
from marketplace.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.core.tables import Organisation, User
from suppliers import domain, queries
from suppliers.catalog import events as offer_events
from suppliers.domain import Status
from suppliers.schemas import (
    ContactRead,
    FactChangeRead,
    StatusChangeRead,
    SupplierCreate,
    SupplierPage,
    SupplierRead,
    SupplierUpdate,
)
from suppliers.tables import Supplier, SupplierFactChange, SupplierStatusChange

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


@dataclass(frozen=True, slots=True)
class Registration:
    """A new registry entry (as its own administrator sees it) and that administrator's user id."""

    supplier: SupplierRead
    admin_user_id: UUID


_STANDING_COLUMNS = (Supplier.organisation_id, Supplier.ruc, Supplier.legal_name, Supplier.ubigeo, Supplier.mype,
                     Supplier.status, Supplier.person_type, Supplier.suspended_until)


def _standing(row: queries.StandingRow) -> SupplierStanding:
    status = domain.effective_status(row.status, row.suspended_until, clock.now())
    return SupplierStanding(
        org_id=row.organisation_id, ruc=row.ruc, legal_name=row.legal_name, ubigeo=row.ubigeo, mype=row.mype,
        status=status.value, person_type=row.person_type,
        suspended_until=row.suspended_until if status is Status.SUSPENDED else None)


async def require_good_standing(*, org_id: UUID) -> SupplierStanding:
    """The supplier, if it may bid and sell now; else a SupplierNotInGoodStanding error (403)."""
    row = await queries.standing_for_share(org_id)
    if row is None:
        raise domain.SupplierNotRegistered(N_("The organisation is not in the supplier registry"))
    _raise_unless_active(row.status, row.suspended_until, clock.now())
    return _standing(row)


def check_standing(row: Mapping[str, Any] | None, now: datetime | None = None) -> None:
    """Raise the SupplierNotInGoodStanding error (403) for a supplier row (`status`, `suspended_until`; None:
    not registered) that may not bid or sell at `now` (default: the clock's now)."""
    if row is None or row["status"] is None:
        raise domain.SupplierNotRegistered(N_("The organisation is not in the supplier registry"))
    _raise_unless_active(row["status"], row["suspended_until"], now or clock.now())


def _raise_unless_active(status_name: str, suspended_until: datetime | None, now: datetime) -> None:
    status = domain.effective_status(status_name, suspended_until, now)
    error = domain.standing_error(status, suspended_until if status is Status.SUSPENDED else None)
    if error is not None:
        raise error


def good_standing_sql(alias: str, now: str) -> str:
    """SQL true when the supplier row `alias` may bid and sell at `now` (a placeholder): the twin of
    `check_standing`, for a writer that decides inside its own statement."""
    return domain.good_standing_sql(alias, now)


def good_standing_where(status: Column, suspended_until: Column, now: datetime) -> Or:
    """The same rule as a piccolo condition on a supplier's `status` and `suspended_until` columns (reached
    through a join, e.g. `Offer.supplier._.status`)."""
    return (status == Status.ACTIVE.value) | ((status == Status.SUSPENDED.value) & (suspended_until <= now))


async def get_supplier(*, org_id: UUID) -> SupplierStanding:
    row = await Supplier.select(*_STANDING_COLUMNS).where(Supplier.organisation_id == org_id).first()
    if row is None:
        raise NotFound(N_("Supplier not found"))
    return _standing(msgspec.convert(row, queries.StandingRow))


async def standing_reasons(*, org_ids: list[UUID]) -> dict[UUID, str]:
    """The registered suppliers among `org_ids` that are not in good standing now (a suspension past its end
    counts as ended), each with the reason a bid or contract of theirs is refused (`supplier_suspended`,
    `supplier_disqualified`, `supplier_pending`): what the opening, the scoring, the award and the contract's
    signature check. Organisations outside the registry are left out (they never bid)."""
    out: dict[UUID, str] = {}
    for org_id, standing in (await get_suppliers(org_ids=org_ids)).items():
        reason = domain.standing_reason(Status(standing.status))
        if reason is not None:
            out[org_id] = reason
    return out


async def get_suppliers(*, org_ids: list[UUID]) -> dict[UUID, SupplierStanding]:
    if not org_ids:
        return {}
    rows = await Supplier.select(*_STANDING_COLUMNS).where(Supplier.organisation_id.is_in(list(org_ids)))
    return {r.organisation_id: _standing(r) for r in msgspec.convert(rows, list[queries.StandingRow])}


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


async def register(*, actor: Actor, data: SupplierCreate, password_hash: str | None = None) -> Registration:
    """Public self-registration: the organisation, its pending registry entry and its first administrator."""
    ruc, person_type = domain.validate_ruc(data.ruc)
    ubigeo = _check_ubigeo(data.ubigeo)
    legal_name = " ".join(data.legal_name.split())
    if not legal_name:
        raise InvalidInput(N_("The legal name is empty"), field="legal_name", rule="required")
    if await Organisation.exists().where(Organisation.ruc == ruc):
        raise Conflict(N_("RUC {ruc} is already registered"), field="ruc", rule="unique", params={"ruc": ruc})
    if await User.exists().where(Lower(User.email) == Lower(data.admin.email)):
        raise Conflict(N_("A user with this email already exists"), field="admin.email", rule="unique")
    now = clock.now()
    try:
        org_id = await auth.create_organisation(kind="supplier", name=legal_name, ruc=ruc, ubigeo=ubigeo)
        user_id = await auth.create_user(organisation_id=org_id, email=data.admin.email,
                                         password=data.admin.password, roles=["supplier_admin", "bidder"],
                                         full_name=data.admin.full_name, password_hash=password_hash)
    except asyncpg.UniqueViolationError as exc:  # a concurrent registration of the same RUC or email
        if "email" in (exc.constraint_name or ""):
            raise Conflict(N_("A user with this email already exists"), field="admin.email",
                           rule="unique") from None
        raise Conflict(N_("RUC {ruc} is already registered"), field="ruc", rule="unique",
                       params={"ruc": ruc}) from None
    await Supplier.insert(Supplier(
        organisation_id=org_id, ruc=ruc, legal_name=legal_name, ubigeo=ubigeo, person_type=person_type.value,
        mype=data.mype, status=Status.PENDING.value, contact_name=data.contact.name,
        contact_email=data.contact.email, contact_phone=data.contact.phone, categories=_categories(data.categories),
        registered_at=now, status_changed_at=now, updated_at=now))
    await record_facts(org_id=org_id, changes={"mype": (None, data.mype), "domicile": (None, ubigeo)},
                        source="registration", actor_user_id=user_id, now=now)
    who = Actor(user_id=user_id, org_id=org_id, org_kind="supplier", roles=frozenset({"supplier_admin"}),
                via=actor.via)
    await audit.record(actor=who, action="supplier.registered", entity_type="supplier", entity_id=org_id,
                       data={"ruc": ruc, "legal_name": legal_name, "ubigeo": ubigeo, "mype": data.mype})
    await outbox.emit(topic=TOPIC_REGISTERED, aggregate_type="supplier", aggregate_id=org_id,
                      payload={"supplier_org_id": str(org_id), "ruc": ruc, "status": Status.PENDING.value})
    return Registration(supplier=_read(await _row(org_id), who), admin_user_id=user_id)


async def register_public(*, actor: Actor, data: SupplierCreate) -> None:
    """Registration as the public endpoint does it: one answer whether or not the RUC or the administrator's
    email is already registered, so that it never tells who has an account (issue 17, finding 7). The
    password is hashed first, in every case (the same work, off the event loop and before the transaction
    takes a connection); a registration that would conflict writes nothing and says nothing. Invalid input
    is still refused (422): it depends on the input alone."""
    password_hash = await auth.hash_password_off_loop(data.admin.password)
    domain.validate_ruc(data.ruc)
    _check_ubigeo(data.ubigeo)
    if not " ".join(data.legal_name.split()):
        raise InvalidInput(N_("The legal name is empty"), field="legal_name", rule="required")
    conn = await db.current_uow().connection()
    try:
        async with conn.transaction():  # a savepoint: a conflict found late (a concurrent twin) undoes only this
            await register(actor=actor, data=data, password_hash=password_hash)
    except Conflict:
        return


# ---------------------------------------------------------------------------------------------- reads

def can_see_contact(actor: Actor, org_id: UUID) -> bool:
    return actor.member_of(org_id) or actor.org_kind in ("agency", "oversight", "platform")


def _can_see_pending(actor: Actor, org_id: UUID) -> bool:
    return actor.member_of(org_id) or actor.org_kind in ("oversight", "platform")


def _read(row: Mapping[str, Any], actor: Actor) -> SupplierRead:
    """The registry entry as `actor` may see it (the contact only for the supplier itself, agencies,
    oversight and the platform)."""
    org_id = row["organisation_id"]
    contact = None
    if can_see_contact(actor, org_id):
        contact = ContactRead(name=row["contact_name"], email=row["contact_email"], phone=row["contact_phone"])
    return SupplierRead(
        id=org_id, ruc=row["ruc"], legal_name=row["legal_name"], person_type=row["person_type"],
        ubigeo=row["ubigeo"], region=row["ubigeo"][:2], place=geo.display_name(row["ubigeo"]), mype=row["mype"],
        status=row["status"], status_reason=row["status_reason"], suspended_until=row["suspended_until"],
        categories=list(row["categories"]), registered_at=row["registered_at"],
        status_changed_at=row["status_changed_at"], contact=contact)


async def _row(org_id: UUID) -> dict[str, Any]:
    row = await Supplier.select().where(Supplier.organisation_id == org_id).first()
    if row is None:
        raise NotFound(N_("Supplier not found"))
    return row


async def _visible_row(actor: Actor, org_id: UUID) -> dict[str, Any]:
    """The row, if `actor` may see it: registered suppliers are public (the registry and its sanctions are);
    a pending registration only to itself, oversight and the platform."""
    row = await Supplier.select().where(Supplier.organisation_id == org_id).first()
    if row is None or (row["status"] == Status.PENDING and not _can_see_pending(actor, org_id)):
        raise NotFound(N_("Supplier not found"))
    return row


async def read_supplier(*, actor: Actor, org_id: UUID) -> SupplierRead:
    """The registry entry. Public for registered suppliers (the registry and its sanctions are public);
    a pending registration only to itself, oversight and the platform."""
    return _read(await _visible_row(actor, org_id), actor)


async def list_suppliers(*, actor: Actor, status: str | None = None, region: str | None = None,
                         category: str | None = None, q: str | None = None, mype: bool | None = None,
                         limit: int = 50, offset: int = 0) -> SupplierPage:
    where: list[Any] = []
    if status:
        where.append(Supplier.status == status)
    if not (actor.org_kind in ("oversight", "platform") or actor.via == "system"):
        # pending registrations are not public (a supplier sees its own)
        public = Supplier.status != Status.PENDING.value
        where.append(public | (Supplier.organisation_id == actor.org_id) if actor.org_id else public)
    if region:
        where.append(Supplier.ubigeo.like(region[:2] + "%"))
    if category:
        # a supplier supplying 4321 supplies 43211503; one supplying 43211503 matches a search for 4321
        where.append(WhereRaw("EXISTS (SELECT 1 FROM unnest(supplier.categories) c"
                              " WHERE starts_with({}, c) OR starts_with(c, {}))", category, category))
    if mype is not None:
        where.append(Supplier.mype == mype)
    if q:
        pattern = "%" + q.replace("%", "").replace("_", "").replace("\\", "") + "%"
        where.append(Supplier.legal_name.ilike(pattern) | (Supplier.ruc == q.strip()))
    count, page = Supplier.count(), Supplier.select()
    for condition in where:
        count, page = count.where(condition), page.where(condition)
    rows = await page.order_by(Supplier.legal_name, Supplier.organisation_id).limit(limit).offset(offset)
    return SupplierPage(items=[_read(r, actor) for r in rows], total=await count, limit=limit, offset=offset)


async def status_history(*, actor: Actor, org_id: UUID) -> list[StatusChangeRead]:
    await _visible_row(actor, org_id)
    rows = await SupplierStatusChange.select(
        SupplierStatusChange.from_status, SupplierStatusChange.to_status, SupplierStatusChange.reason,
        SupplierStatusChange.suspended_until, SupplierStatusChange.changed_at,
    ).where(SupplierStatusChange.supplier_id == org_id).order_by(SupplierStatusChange.id)
    return msgspec.convert(rows, list[StatusChangeRead])


# ---------------------------------------------------------------------------------------------- writes

async def update_supplier(*, actor: Actor, org_id: UUID, data: SupplierUpdate) -> SupplierRead:
    """The supplier's administrator (or a platform administrator) changes contact, categories, MYPE, domicile."""
    require(actor, ("supplier", "platform"), "supplier_admin", "admin")
    if actor.org_kind == "supplier":
        require_member(actor, org_id)
    locked = Supplier.select(Supplier.organisation_id, Supplier.mype, Supplier.ubigeo).where(
        Supplier.organisation_id == org_id).lock_rows()
    current = await locked.first()
    if current is None:
        raise NotFound(N_("Supplier not found"))
    changed: dict[Column | str, Any] = {}
    facts: dict[str, tuple[Any, Any]] = {}
    if data.mype is not None and data.mype != current["mype"]:
        facts["mype"] = (current["mype"], data.mype)
    if data.ubigeo is not None and data.ubigeo != current["ubigeo"]:
        facts["domicile"] = (current["ubigeo"], data.ubigeo)
    if data.contact is not None:
        changed[Supplier.contact_name] = data.contact.name
        changed[Supplier.contact_email] = data.contact.email
        changed[Supplier.contact_phone] = data.contact.phone
    if data.mype is not None:
        changed[Supplier.mype] = data.mype
    if data.categories is not None:
        changed[Supplier.categories] = _categories(data.categories)
    if data.ubigeo is not None:
        changed[Supplier.ubigeo] = _check_ubigeo(data.ubigeo)
        await Organisation.update({Organisation.ubigeo: data.ubigeo}).where(Organisation.id == org_id)
    if changed:
        names = {column._meta.name: value for column, value in changed.items() if isinstance(column, Column)}
        await Supplier.update({**changed, Supplier.updated_at: clock.now()}).where(Supplier.organisation_id == org_id)
        await audit.record(actor=actor, action="supplier.updated", entity_type="supplier", entity_id=org_id,
                           data=names)
        await outbox.emit(topic=TOPIC_UPDATED, aggregate_type="supplier", aggregate_id=org_id,
                          payload={"supplier_org_id": str(org_id), "fields": sorted([*names, "updated_at"])})
        if {"mype", "ubigeo"} & names.keys():
            await offer_events.emit_supplier_offers(supplier_id=org_id, change="supplier_updated")
    if facts:
        # A platform administrator's change is a verified one; the supplier's own is its declaration.
        await record_facts(org_id=org_id, changes=facts, now=clock.now(), actor_user_id=actor.user_id,
                            source="platform" if actor.org_kind == "platform" else "supplier")
    return _read(await _row(org_id), actor)


def _fact_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


async def record_facts(*, org_id: UUID, changes: Mapping[str, tuple[Any, Any]], source: str,
                        actor_user_id: UUID | None, now: datetime) -> None:
    """Append MYPE / domicile values (fact -> (previous, new)) to the supplier's public history, in force
    from `now`: a value is never back-dated, so a switch made during a tender's submission period is after
    its publication and does not count for its bonuses."""
    await SupplierFactChange.insert(*(SupplierFactChange(
        supplier_id=org_id, fact=fact, value=_fact_text(new), previous=None if old is None else _fact_text(old),
        source=source, effective_at=now, actor_user_id=actor_user_id, recorded_at=now)
        for fact, (old, new) in changes.items()))


async def facts_history(*, actor: Actor, org_id: UUID) -> list[FactChangeRead]:
    """Every MYPE status and domicile value of a supplier, oldest first, with its source and effective date:
    public, as the registry is (a pending registration only to itself, oversight and the platform)."""
    await _visible_row(actor, org_id)
    rows = await SupplierFactChange.select(
        SupplierFactChange.fact, SupplierFactChange.value, SupplierFactChange.previous, SupplierFactChange.source,
        SupplierFactChange.effective_at,
    ).where(SupplierFactChange.supplier_id == org_id).order_by(SupplierFactChange.effective_at).order_by(
        SupplierFactChange.id)
    return msgspec.convert(rows, list[FactChangeRead])


async def facts_as_of(*, org_ids: list[UUID], at: datetime) -> dict[UUID, queries.FactsRow]:
    """Each supplier's MYPE status and domicile as they stood at `at` (a tender's publication): what the
    score bonuses are judged on. A supplier registered later counts with what it declared when it
    registered; `mype` / `domicile` are None for a supplier without any recorded history."""
    return await queries.facts_as_of(list(org_ids), at) if org_ids else {}


async def change_status(*, actor: Actor, org_id: UUID, status: str, reason: str,
                        until: datetime | None = None) -> SupplierRead:
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
    row = await Supplier.select(Supplier.status).where(Supplier.organisation_id == org_id).lock_rows().first()
    if row is None:
        raise NotFound(N_("Supplier not found"))
    current = Status(row["status"])
    if current is Status.PENDING and new is Status.ACTIVE and not (
            actor.via == "system" or actor.is_("platform", "admin")):
        raise Forbidden(N_("Only the platform approves a registration (or the payment of the registry fee)"))
    domain.check_transition(current, new)
    await _set_status(actor=actor, org_id=org_id, current=current, new=new, reason=reason, until=until, now=now)
    return _read(await _row(org_id), actor)


async def _set_status(*, actor: Actor, org_id: UUID, current: Status, new: Status, reason: str,
                      until: datetime | None, now: datetime) -> None:
    await Supplier.update({
        Supplier.status: new.value, Supplier.status_reason: reason, Supplier.suspended_until: until,
        Supplier.status_changed_at: now, Supplier.updated_at: now,
    }).where(Supplier.organisation_id == org_id)
    await SupplierStatusChange.insert(SupplierStatusChange(
        supplier_id=org_id, from_status=current.value, to_status=new.value, reason=reason, suspended_until=until,
        actor_user_id=actor.user_id, actor_org_id=actor.org_id, changed_at=now))
    await audit.record(actor=actor, action=f"supplier.status.{new.value}", entity_type="supplier",
                       entity_id=org_id, data={"from": current.value, "to": new.value, "reason": reason,
                                               "until": until.isoformat() if until else None})
    await outbox.emit(topic=TOPIC_STATUS_CHANGED, aggregate_type="supplier", aggregate_id=org_id, payload={
        "supplier_org_id": str(org_id), "status": new.value, "previous": current.value,
        "searchable": new is Status.ACTIVE, "suspended_until": until.isoformat() if until else None})
    was_visible, visible = current is Status.ACTIVE, new is Status.ACTIVE
    if was_visible != visible:
        await offer_events.emit_supplier_offers(supplier_id=org_id,
                                                change="supplier_" + new.value if not visible else "supplier_active")


async def approve_registration(*, actor: Actor, org_id: UUID, reason: str = "registry fee paid") -> SupplierRead:
    """Pending -> active: the registry fee was paid (payments, as the system actor) or the platform approves."""
    return await change_status(actor=actor, org_id=org_id, status=Status.ACTIVE.value, reason=reason)


async def end_due_suspensions(*, limit: int = 500) -> int:
    """Reinstate suppliers whose suspension has ended (the sweeper job); returns how many."""
    require_authenticated(SYSTEM)
    now = clock.now()
    rows = await Supplier.select(Supplier.organisation_id).where(
        (Supplier.status == Status.SUSPENDED.value) & (Supplier.suspended_until <= now),
    ).order_by(Supplier.suspended_until).limit(limit).lock_rows(skip_locked=True)
    for r in rows:
        await _set_status(actor=SYSTEM, org_id=r["organisation_id"], current=Status.SUSPENDED, new=Status.ACTIVE,
                          reason="suspension ended", until=None, now=now)
    return len(rows)
