"""Agency use cases: register an agency with its first administrator; the public list and detail."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from marketplace.agencies import domain
from marketplace.agencies.schemas import AgencyCreate
from marketplace.core import audit, clock, db, geo, outbox
from marketplace.core.actor import Actor, require
from marketplace.core.auth import service as auth
from marketplace.core.errors import DomainError, InvalidInput, NotFound
from marketplace.core.i18n import N_

_SELECT = (
    "SELECT o.id, o.ruc, o.name, a.level, a.sector, o.ubigeo, a.created_at"
    " FROM agency a JOIN organisation o ON o.id = a.organisation_id"
)


def _prefixed(exc: DomainError, prefix: str) -> DomainError:
    """The same error, naming the field inside the nested object (email -> admin.email)."""
    if exc.field and not exc.field.startswith(prefix):
        exc.field = prefix + exc.field
    return exc


async def create_agency(*, actor: Actor, data: AgencyCreate) -> dict[str, Any]:
    """Register an agency: its organisation, the agency row and its first agency_admin user.

    Platform admins only. The RUC must pass the check digit and be unregistered (409), the ubigeo must
    name a real place.
    """
    require(actor, "platform", "admin")
    ruc = domain.validate_ruc(data.ruc)
    if not geo.is_valid_ubigeo(data.ubigeo):
        raise InvalidInput(N_("Unknown ubigeo {ubigeo}"), field="ubigeo", rule="exists",
                           params={"ubigeo": data.ubigeo})
    org_id = await auth.create_organisation(kind="agency", name=data.name.strip(), ruc=ruc, ubigeo=data.ubigeo,
                                            actor=actor)
    await _insert_agency(org_id=org_id, level=data.level, sector=data.sector.strip())
    try:
        admin_id = await auth.create_user(organisation_id=org_id, email=data.admin.email,
                                          password=data.admin.password, roles=["agency_admin"],
                                          full_name=data.admin.full_name, actor=actor)
    except DomainError as exc:
        raise _prefixed(exc, "admin.") from None
    payload = {"ruc": ruc, "name": data.name.strip(), "level": data.level, "sector": data.sector.strip(),
               "ubigeo": data.ubigeo}
    await audit.record(actor=actor, action="agency.created", entity_type="agency", entity_id=org_id,
                       data={**payload, "admin_user_id": str(admin_id)})
    await outbox.emit(topic="agency.created", aggregate_type="agency", aggregate_id=org_id, payload=payload)
    row = await db.fetchrow(_SELECT + " WHERE o.id = $1", org_id)
    assert row is not None
    return {**row, "admin_user_id": admin_id}


async def _insert_agency(*, org_id: UUID, level: str, sector: str) -> None:
    if level not in domain.LEVELS:
        raise InvalidInput(N_("Unknown level of government"), field="level", rule="enum")
    await db.execute(
        "INSERT INTO agency (organisation_id, level, sector, created_at) VALUES ($1, $2, $3, $4)",
        org_id, level, sector, clock.now(),
    )


async def register_organisation(*, actor: Actor, organisation_id: UUID, level: str, sector: str = "") -> None:
    """Make an existing organisation of kind 'agency' a listed agency (the demo seed and the CLI use it; its
    users already exist). Platform admins and system jobs only."""
    require(actor, "platform", "admin")
    org = await db.fetchrow("SELECT kind, ruc, name, ubigeo FROM organisation WHERE id = $1", organisation_id)
    if org is None or org["kind"] != "agency":
        raise NotFound(N_("Agency not found"))
    await _insert_agency(org_id=organisation_id, level=level, sector=sector)
    payload = {"ruc": org["ruc"], "name": org["name"], "level": level, "sector": sector, "ubigeo": org["ubigeo"]}
    await audit.record(actor=actor, action="agency.created", entity_type="agency", entity_id=organisation_id,
                       data=payload)
    await outbox.emit(topic="agency.created", aggregate_type="agency", aggregate_id=organisation_id,
                      payload=payload)


async def get_agency(*, actor: Actor, agency_id: UUID) -> dict[str, Any]:
    """An agency's public record (anyone may read it)."""
    row = await db.fetchrow(_SELECT + " WHERE o.id = $1", agency_id)
    if row is None:
        raise NotFound(N_("Agency not found"))
    return row


async def list_agencies(*, actor: Actor, limit: int = 50, after: str | None = None, level: str | None = None,
                        region: str | None = None, q: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """The public list of agencies by name, keyset-paginated: (rows, cursor of the next page or None)."""
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if after:
        name, id_ = domain.decode_cursor(after)
        where.append(f"(o.name, o.id) > ({arg(name)}, {arg(id_)})")
    if level:
        where.append(f"a.level = {arg(level)}")
    if region:
        where.append(f"o.ubigeo LIKE {arg(region[:2] + '%')}")
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(f"o.name ILIKE {arg(pattern)}")
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
    sql += f" ORDER BY o.name, o.id LIMIT {arg(limit + 1)}"
    rows = await db.fetch(sql, *args)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = domain.encode_cursor(rows[-1]["name"], rows[-1]["id"])
    return rows, next_cursor
