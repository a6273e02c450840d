"""Agency use cases: register an agency with its first administrator; the public list and detail.

Reads and writes go through piccolo's query builder; the public list's keyset page is SQL in queries.py.
"""

from __future__ import annotations

from uuid import UUID

from marketplace.agencies import domain, queries
from marketplace.agencies.schemas import AgencyCreate, AgencyCreated, AgencyPage, AgencyRead
from marketplace.agencies.tables import Agency
from marketplace.core import audit, clock, geo, outbox
from marketplace.core.actor import Actor, require
from marketplace.core.auth import service as auth
from marketplace.core.errors import DomainError, InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.core.tables import Organisation

_COLUMNS = (
    Agency.organisation.as_alias("id"), Agency.organisation._.ruc.as_alias("ruc"),
    Agency.organisation._.name.as_alias("name"), Agency.level, Agency.sector,
    Agency.organisation._.ubigeo.as_alias("ubigeo"), Agency.created_at,
)


def _prefixed(exc: DomainError, prefix: str) -> DomainError:
    """The same error, naming the field inside the nested object (email -> admin.email)."""
    if exc.field and not exc.field.startswith(prefix):
        exc.field = prefix + exc.field
    return exc


async def create_agency(*, actor: Actor, data: AgencyCreate) -> AgencyCreated:
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
    agency = await _agency(org_id)
    return AgencyCreated(id=agency.id, ruc=agency.ruc, name=agency.name, level=agency.level, sector=agency.sector,
                         ubigeo=agency.ubigeo, created_at=agency.created_at, admin_user_id=admin_id)


async def _insert_agency(*, org_id: UUID, level: str, sector: str) -> None:
    if level not in domain.LEVELS:
        raise InvalidInput(N_("Unknown level of government"), field="level", rule="enum")
    await Agency.insert(Agency(organisation=org_id, level=level, sector=sector, created_at=clock.now()))


async def register_organisation(*, actor: Actor, organisation_id: UUID, level: str, sector: str = "") -> None:
    """Make an existing organisation of kind 'agency' a listed agency (the demo seed and the CLI use it; its
    users already exist). Platform admins and system jobs only."""
    require(actor, "platform", "admin")
    org = await Organisation.select(Organisation.kind, Organisation.ruc, Organisation.name, Organisation.ubigeo).where(
        Organisation.id == organisation_id).first()
    if org is None or org["kind"] != "agency":
        raise NotFound(N_("Agency not found"))
    await _insert_agency(org_id=organisation_id, level=level, sector=sector)
    payload = {"ruc": org["ruc"], "name": org["name"], "level": level, "sector": sector, "ubigeo": org["ubigeo"]}
    await audit.record(actor=actor, action="agency.created", entity_type="agency", entity_id=organisation_id,
                       data=payload)
    await outbox.emit(topic="agency.created", aggregate_type="agency", aggregate_id=organisation_id,
                      payload=payload)


async def _agency(agency_id: UUID) -> AgencyRead:
    row = await Agency.select(*_COLUMNS).where(Agency.organisation == agency_id).first()
    if row is None:
        raise NotFound(N_("Agency not found"))
    return AgencyRead(**row)


async def get_agency(*, actor: Actor, agency_id: UUID) -> AgencyRead:
    """An agency's public record (anyone may read it)."""
    return await _agency(agency_id)


async def list_agencies(*, actor: Actor, limit: int = 50, after: str | None = None, level: str | None = None,
                        region: str | None = None, q: str | None = None) -> AgencyPage:
    """The public list of agencies by name, keyset-paginated (`next_cursor` is None on the last page)."""
    pattern = None
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await queries.agency_page(limit=limit + 1, after=domain.decode_cursor(after) if after else None,
                                     level=level, region=region[:2] if region else None, name_like=pattern)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = domain.encode_cursor(rows[-1].name, rows[-1].id)
    return AgencyPage(items=rows, next_cursor=next_cursor)
