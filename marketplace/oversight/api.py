"""Oversight API: award history (pages, aggregates, concentration, export), red flags, stage times, alarms,
a tender's audit trail; and the OCDS publication (/ocds/...).

Award history, red flags, stage times and OCDS data are public (anyone may read them). Alarms and the
tender audit trail are for oversight bodies and the platform; an agency reads the notifications sent to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Response, get
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import FromPath, QueryParameter
from litestar.response import File, Stream

from marketplace.core import db
from marketplace.core.actor import require
from marketplace.core.audit_api import AuditEventPage, AuditEventRead
from marketplace.core.deps import ActorDep, SettingsDep
from marketplace.core.errors import InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.oversight import policy as policy_mod
from marketplace.oversight import schemas as s
from marketplace.oversight.awards import export
from marketplace.oversight.awards import service as history
from marketplace.oversight.imports import service as imports
from marketplace.oversight.ocds import publisher
from marketplace.oversight.redflags import readmodel as redflag_model
from marketplace.oversight.redflags import service as redflags
from marketplace.oversight.redflags.schemas import RedFlagPage
from marketplace.oversight.stages import service as stages
from marketplace.settings import Settings

TAGS = ["oversight"]
OCDS_JSON = "application/json"


def _filters(agency_id, supplier_ruc, region, province, method, category, classification, date_from, date_to,
             value_min, value_max, state) -> history.Filters:
    return history.Filters(agency_id=agency_id, supplier_ruc=supplier_ruc, region=region, province=province,
                           method=method, category=category, classification=classification, date_from=date_from,
                           date_to=date_to, value_min=value_min, value_max=value_max, state=state)


# The same filter parameters on every award history endpoint.
AgencyP = Annotated[UUID | None, QueryParameter(description="the buying agency (organisation id)")]
RucP = Annotated[str | None, QueryParameter(description="supplier RUC (11 digits)")]
RegionP = Annotated[str | None, QueryParameter(description="region of delivery: first 2 digits of the ubigeo")]
ProvinceP = Annotated[str | None, QueryParameter(description="province of delivery: first 4 digits of the ubigeo")]
MethodP = Annotated[str | None, QueryParameter(description="procurement method, e.g. public_tender")]
CategoryP = Annotated[str | None, QueryParameter(description="goods, services or works")]
ClassP = Annotated[str | None, QueryParameter(description="classification code prefix (UNSPSC or CPV)")]
FromP = Annotated[datetime | None, QueryParameter(description="awarded at or after (RFC 3339)")]
ToP = Annotated[datetime | None, QueryParameter(description="awarded before (RFC 3339)")]
VMinP = Annotated[int | None, QueryParameter(ge=0, le=10**15, description="minimum value in céntimos")]
VMaxP = Annotated[int | None, QueryParameter(ge=0, le=10**15, description="maximum value in céntimos")]
StateP = Annotated[str | None, QueryParameter(
    name="state", description="award state: pending, standstill, appealed, consented, cancelled")]


@get("/api/v1/oversight/awards", tags=TAGS, summary="Award history: filtered, newest first, keyset pages (public)")
async def list_awards(
    agency_id: AgencyP = None, supplier_ruc: RucP = None, region: RegionP = None, province: ProvinceP = None,
    method: MethodP = None, category: CategoryP = None, classification: ClassP = None, date_from: FromP = None,
    date_to: ToP = None, value_min: VMinP = None, value_max: VMaxP = None, award_state: StateP = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500, description="page size")] = 50,
    cursor: Annotated[str | None,
                      QueryParameter(max_length=200, description="`next_cursor` of the previous page")] = None,
) -> s.AwardHistoryPage:
    f = _filters(agency_id, supplier_ruc, region, province, method, category, classification, date_from, date_to,
                 value_min, value_max, award_state)
    rows, nxt = await history.page(filters=f, limit=limit, cursor=cursor)
    return s.AwardHistoryPage(items=[s.AwardHistoryRead(**{**r, "currency": r["currency"].strip()}) for r in rows],
                              next_cursor=nxt)


@get("/api/v1/oversight/awards/aggregates", tags=TAGS,
     summary="Award totals and counts per supplier, agency, region or method (public)")
async def award_aggregates(
    by: Annotated[str, QueryParameter(description="supplier, agency, region or method")] = "supplier",
    agency_id: AgencyP = None, supplier_ruc: RucP = None, region: RegionP = None, province: ProvinceP = None,
    method: MethodP = None, category: CategoryP = None, classification: ClassP = None, date_from: FromP = None,
    date_to: ToP = None, value_min: VMinP = None, value_max: VMaxP = None, award_state: StateP = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> s.Aggregates:
    if by not in history.GROUPS:
        raise InvalidInput(N_("Group by supplier, agency, region or method"), field="query.by", rule="enum")
    f = _filters(agency_id, supplier_ruc, region, province, method, category, classification, date_from, date_to,
                 value_min, value_max, award_state)
    rows = await history.aggregates(filters=f, by=by, limit=limit)
    return s.Aggregates(by=by, items=[s.AggregateRow(key=str(r["key"]), label=r["label"], count=r["count"],
                                                     total=r["total"]) for r in rows])


@get("/api/v1/oversight/awards/concentration", tags=TAGS,
     summary="Supplier concentration per agency (Herfindahl-Hirschman index of awarded value) (public)")
async def award_concentration(
    agency_id: AgencyP = None, supplier_ruc: RucP = None, region: RegionP = None, province: ProvinceP = None,
    method: MethodP = None, category: CategoryP = None, classification: ClassP = None, date_from: FromP = None,
    date_to: ToP = None, value_min: VMinP = None, value_max: VMaxP = None, award_state: StateP = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> list[s.ConcentrationRow]:
    f = _filters(agency_id, supplier_ruc, region, province, method, category, classification, date_from, date_to,
                 value_min, value_max, award_state)
    return [s.ConcentrationRow(**r) for r in await history.concentration(filters=f, limit=limit)]


@dataclass
class ExportOperation(Operation):
    """The export answers text/csv or application/jsonl (by `format`), not JSON."""

    def __post_init__(self) -> None:
        text = Schema(type=OpenAPIType.STRING)
        self.responses = {**(self.responses or {}), "200": OpenAPIResponse(
            description="Every matching award, newest first: CSV with a header row, or one JSON object a line",
            content={"text/csv": OpenAPIMediaType(schema=text), "application/jsonl": OpenAPIMediaType(schema=text)})}


@get("/api/v1/oversight/awards/export", tags=TAGS, operation_class=ExportOperation,
     summary="Stream the filtered award history as CSV or JSON Lines (public; flat memory at any size)")
async def export_awards(
    format: Annotated[str, QueryParameter(description="csv or jsonl")] = "csv",
    agency_id: AgencyP = None, supplier_ruc: RucP = None, region: RegionP = None, province: ProvinceP = None,
    method: MethodP = None, category: CategoryP = None, classification: ClassP = None, date_from: FromP = None,
    date_to: ToP = None, value_min: VMinP = None, value_max: VMaxP = None, award_state: StateP = None,
) -> Stream:
    if format not in export.FORMATS:
        raise InvalidInput(N_("The export format is csv or jsonl"), field="query.format", rule="enum")
    f = _filters(agency_id, supplier_ruc, region, province, method, category, classification, date_from, date_to,
                 value_min, value_max, award_state)
    f.check()  # a bad filter is a 422 before the stream starts
    return Stream(export.encode(filters=f, fmt=format), media_type=export.FORMATS[format],
                  headers={"Content-Disposition": f'attachment; filename="awards.{format}"'})


def _flag(f: redflags.Flag) -> s.FlagRead:
    return s.FlagRead(**f.__dict__)


def _red_flags(settings: Settings, flags: list[redflags.Flag]) -> s.RedFlags:
    summary = {code: 0 for code in redflags.DEFINITIONS}
    for f in flags:
        summary[f.code] += 1
    return s.RedFlags(summary=summary, definitions=redflags.DEFINITIONS,
                      thresholds=policy_mod.of(settings).public(), items=[_flag(f) for f in flags])


@get("/api/v1/oversight/red-flags", tags=TAGS, summary="Red flags (Cardinal's indicators and ours, MA-*) of every "
     "process and organisation, ours and imported, from the read model: filtered, newest first, keyset pages (public)")
async def red_flags(
    code: Annotated[str | None, QueryParameter(max_length=16, description="indicator code: R003 ... R058, MA-AMEND, "
                                                                          "MA-STAGE")] = None,
    buyer: Annotated[str | None, QueryParameter(max_length=200, description="buyer: OCDS party id or RUC")] = None,
    supplier: Annotated[str | None, QueryParameter(max_length=200,
                                                   description="supplier / tenderer: OCDS party id or RUC")] = None,
    publisher: Annotated[str | None, QueryParameter(max_length=200, description="OCDS publisher slug")] = None,
    ocid: Annotated[str | None, QueryParameter(max_length=200, description="one contracting process")] = None,
    date_from: Annotated[datetime | None, QueryParameter(description="dated at or after (RFC 3339)")] = None,
    date_to: Annotated[datetime | None, QueryParameter(description="dated before (RFC 3339)")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=redflag_model.MAX_LIMIT, description="page size")] = 50,
    cursor: Annotated[str | None,
                      QueryParameter(max_length=200, description="`next_cursor` of the previous page")] = None,
) -> RedFlagPage:
    return await redflag_model.page(code=code, buyer=buyer, supplier=supplier, publisher=publisher, ocid=ocid,
                                    date_from=date_from, date_to=date_to, cursor=cursor, limit=limit)


async def _public_tender(tender_id: UUID) -> dict[str, Any]:
    t = await db.fetchrow("SELECT id, state FROM tender WHERE id = $1", tender_id)
    if t is None or t["state"] == "draft":
        raise NotFound(N_("Tender not found"))
    return t


@get("/api/v1/oversight/tenders/{tender_id:uuid}/red-flags", tags=TAGS, summary="One tender's red flags (public)")
async def tender_red_flags(tender_id: FromPath[UUID], settings: SettingsDep) -> s.RedFlags:
    await _public_tender(tender_id)
    return _red_flags(settings, await redflags.compute(settings, tender_id=tender_id))


@get("/api/v1/oversight/stage-times", tags=TAGS,
     summary="How long each stage takes: p50 and p90 in days per agency and method (public)")
async def stage_times(
    settings: SettingsDep, agency_id: AgencyP = None, method: MethodP = None,
) -> s.StageTimes:
    rows = await stages.stage_times(agency_id=agency_id, method=method)
    return s.StageTimes(limits_days=policy_mod.of(settings).stage_limit_days, items=[s.StageTime(**r) for r in rows])


@get("/api/v1/oversight/alarms", tags=TAGS,
     summary="Tenders stuck in a stage past its limit: raised alarms and what is stuck now (oversight bodies)")
async def list_alarms(
    actor: ActorDep, settings: SettingsDep,
    include_cleared: Annotated[bool, QueryParameter(description="also alarms whose tender moved on")] = False,
) -> s.Alarms:
    require(actor, ("oversight", "platform"))
    alarms = await stages.alarms(open_only=not include_cleared)
    stuck = await stages.stuck(settings)
    return s.Alarms(alarms=[s.AlarmRead(**a) for a in alarms], stuck_now=[s.StuckRead(**r) for r in stuck])


@get("/api/v1/oversight/notifications", tags=TAGS, summary="What oversight told your agency (agency users)")
async def agency_notifications(actor: ActorDep) -> list[s.NotificationRead]:
    require(actor, "agency")
    assert actor.org_id is not None
    return [s.NotificationRead(**r) for r in await stages.notifications(agency_id=actor.org_id)]


@get("/api/v1/oversight/tenders/{tender_id:uuid}/audit", tags=TAGS,
     summary="A tender's full audit trail: the tender, its lots, bids, auctions, awards, appeals, contracts and "
             "their payments "
             "(oversight bodies and the platform). Check the chain at /api/v1/audit/verify.")
async def tender_audit(
    tender_id: FromPath[UUID], actor: ActorDep,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
    after: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{1,18}$", description="`next_cursor`")] = None,
) -> AuditEventPage:
    require(actor, ("oversight", "platform"))
    if await db.fetchrow("SELECT 1 FROM tender WHERE id = $1", tender_id) is None:
        raise NotFound(N_("Tender not found"))
    # Every entity of the contracting process, then their events by the (entity_type, entity_id) index.
    rows = await db.fetch(
        "WITH c AS (SELECT id FROM contract WHERE tender_id = $1 AND source_type = 'award'),"
        " p AS (SELECT id FROM award_appeal WHERE tender_id = $1),"
        " ids (et, eid) AS ("
        "  SELECT 'tender', $1::uuid::text"
        "  UNION ALL SELECT 'tender_lot', id::text FROM tender_lot WHERE tender_id = $1"
        "  UNION ALL SELECT 'bid', id::text FROM bid WHERE tender_id = $1"
        "  UNION ALL SELECT 'award', id::text FROM award WHERE tender_id = $1"
        "  UNION ALL SELECT 'award_appeal', id::text FROM p"
        "  UNION ALL SELECT 'auction', id::text FROM auction WHERE tender_id = $1"
        "  UNION ALL SELECT 'contract', id::text FROM c"
        "  UNION ALL SELECT 'payment', id::text FROM payment"
        "            WHERE contract_id IN (SELECT id FROM c) OR appeal_id IN (SELECT id FROM p))"
        " SELECT e.id, e.seq, e.occurred_at, e.actor_user_id, e.actor_org_id, e.action, e.entity_type, e.entity_id,"
        "        e.data::text AS data, e.prev_hash, e.hash"
        " FROM ids JOIN audit_event e ON e.entity_type = ids.et AND e.entity_id = ids.eid"
        " WHERE e.id > $2 ORDER BY e.id LIMIT $3", tender_id, int(after or 0), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [AuditEventRead(**{**r, "data": msgspec.json.decode(r["data"])}) for r in rows]
    return AuditEventPage(items=items, next_cursor=str(rows[-1]["id"]) if more and rows else None)


@get("/api/v1/oversight/publishers", tags=TAGS,
     summary="OCDS publishers whose processes are here (ours and imported), with counts and last import (public)")
async def list_publishers() -> list[s.PublisherRead]:
    return await imports.public_publishers()


# --- OCDS -----------------------------------------------------------------------------------------------

def _plain(ident: str, message: str) -> None:
    """Ids are short printable text; anything else names nothing we publish."""
    if len(ident) > 200 or not ident.isprintable():
        raise NotFound(message)


def _json(value: Any) -> Response[dict[str, Any]]:
    """OCDS JSON encoded here (amounts as exact decimal numbers), documented as the object it is."""
    return Response(publisher.encode(value), media_type=OCDS_JSON)


@get("/ocds/releases", tags=["ocds"], summary="OCDS release package: the change feed of releases in commit "
     "order (pass `since` = links.next's cursor; a release that commits late is never skipped)")
async def ocds_releases(
    settings: SettingsDep,
    since: Annotated[str | None, QueryParameter(max_length=60, description="cursor from links.next")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> Response[dict[str, Any]]:
    releases, nxt = await publisher.feed(since=since, limit=limit)
    base = settings.public_base_url.rstrip("/")
    uri = f"{base}/ocds/releases" + (f"?since={since}" if since else "")
    return _json(publisher.release_package(settings, uri, releases, links={
        "next": f"{base}/ocds/releases?since={nxt}&limit={limit}"}))


@get("/ocds/releases/{release_id:str}", tags=["ocds"], summary="One OCDS release, in a release package")
async def ocds_release(release_id: FromPath[str], settings: SettingsDep) -> Response[dict[str, Any]]:
    _plain(release_id, N_("Release not found"))
    release = await publisher.get_release(release_id)
    uri = f"{settings.public_base_url.rstrip('/')}/ocds/releases/{release_id}"
    return _json(publisher.release_package(settings, uri, [release]))


@get("/ocds/records/{ocid:str}", tags=["ocds"],
     summary="The OCDS record of one contracting process (every release and the compiled release)")
async def ocds_record(ocid: FromPath[str], settings: SettingsDep) -> Response[dict[str, Any]]:
    _plain(ocid, N_("Record not found"))
    record = await publisher.record(ocid)
    uri = f"{settings.public_base_url.rstrip('/')}/ocds/records/{ocid}"
    return _json(publisher.record_package(settings, uri, [record]))


@get("/ocds/bulk", tags=["ocds"], summary="Daily bulk files: every release published that day, gzip JSON Lines")
async def ocds_bulk_list(settings: SettingsDep) -> list[s.BulkFile]:
    return [s.BulkFile(**x) for x in publisher.list_bulk(settings)]


@get("/ocds/bulk/{name:str}", tags=["ocds"], summary="One daily bulk file")
async def ocds_bulk_file(name: FromPath[str], settings: SettingsDep) -> File:
    if not name.startswith("releases-") or not name.endswith(".jsonl.gz") or "/" in name or ".." in name:
        raise NotFound(N_("File not found"))
    path = publisher.bulk_dir(settings) / name
    if not path.is_file():
        raise NotFound(N_("File not found"))
    return File(path=path, filename=name, media_type="application/gzip")


ROUTES = [list_publishers, list_awards, award_aggregates, award_concentration, export_awards, red_flags,
          tender_red_flags, stage_times, list_alarms, agency_notifications, tender_audit, ocds_releases, ocds_release,
          ocds_record, ocds_bulk_list, ocds_bulk_file]
