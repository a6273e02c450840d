"""Oversight API: award history (pages, aggregates, concentration, export), red flags, stage times, alarms,
a tender's audit trail; and the OCDS publication (/ocds/...). Thin: the use cases and their authorisation
are in service.py (the OCDS publication's in ocds/publisher.py).

Award history, red flags, stage times and OCDS data are public (anyone may read them). Alarms and the
tender audit trail are for oversight bodies and the platform; an agency reads the notifications sent to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Response, get
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import FromPath, QueryParameter
from litestar.response import File, Stream

from marketplace.core.audit_api import AuditEventPage
from marketplace.core.deps import ActorDep, SettingsDep
from marketplace.oversight import schemas as s
from marketplace.oversight import service
from marketplace.oversight.awards import service as history
from marketplace.oversight.redflags import readmodel as redflag_model
from marketplace.oversight.redflags.schemas import RedFlagPage

TAGS = ["oversight"]
OCDS_JSON = "application/json"


def _filters(agency_id: UUID | None, supplier_ruc: str | None, region: str | None, province: str | None,
             method: str | None, category: str | None, classification: str | None, date_from: datetime | None,
             date_to: datetime | None, value_min: int | None, value_max: int | None,
             state: str | None, publisher: str | None) -> history.Filters:
    return history.Filters(agency_id=agency_id, supplier_ruc=supplier_ruc, region=region, province=province,
                           method=method, category=category, classification=classification, date_from=date_from,
                           date_to=date_to, value_min=value_min, value_max=value_max, state=state,
                           publisher=publisher)


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
VMinP = Annotated[int | None, QueryParameter(
    ge=0, le=10**15, description="minimum value, in the award currency's minor units (céntimos for PEN)")]
VMaxP = Annotated[int | None, QueryParameter(
    ge=0, le=10**15, description="maximum value, in the award currency's minor units (céntimos for PEN)")]
StateP = Annotated[str | None, QueryParameter(
    name="state", description="award state: pending, standstill, appealed, consented, cancelled; imported "
                              "awards: OCDS's pending, active, cancelled, unsuccessful")]
PublisherP = Annotated[str | None, QueryParameter(
    description="only this publisher's processes: its slug (GET /api/v1/oversight/publishers); "
                "ours: mercado-abierto")]


@get("/api/v1/oversight/awards", tags=TAGS, summary="Award history: filtered, newest first, keyset pages (public)")
async def list_awards(
    agency_id: AgencyP = None, supplier_ruc: RucP = None, region: RegionP = None, province: ProvinceP = None,
    method: MethodP = None, category: CategoryP = None, classification: ClassP = None, date_from: FromP = None,
    date_to: ToP = None, value_min: VMinP = None, value_max: VMaxP = None, award_state: StateP = None,
    publisher: PublisherP = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500, description="page size")] = 50,
    cursor: Annotated[str | None,
                      QueryParameter(max_length=200, description="`next_cursor` of the previous page")] = None,
) -> s.AwardHistoryPage:
    f = _filters(agency_id, supplier_ruc, region, province, method, category, classification, date_from, date_to,
                 value_min, value_max, award_state, publisher)
    return await service.award_page(f, limit=limit, cursor=cursor)


@get("/api/v1/oversight/awards/aggregates", tags=TAGS,
     summary="Award totals and counts per supplier, agency, region or method (public)")
async def award_aggregates(
    by: Annotated[str, QueryParameter(description="supplier, agency, region, method or publisher")] = "supplier",
    agency_id: AgencyP = None, supplier_ruc: RucP = None, region: RegionP = None, province: ProvinceP = None,
    method: MethodP = None, category: CategoryP = None, classification: ClassP = None, date_from: FromP = None,
    date_to: ToP = None, value_min: VMinP = None, value_max: VMaxP = None, award_state: StateP = None,
    publisher: PublisherP = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> s.Aggregates:
    f = _filters(agency_id, supplier_ruc, region, province, method, category, classification, date_from, date_to,
                 value_min, value_max, award_state, publisher)
    return await service.award_aggregates(f, by=by, limit=limit)


@get("/api/v1/oversight/awards/concentration", tags=TAGS,
     summary="Supplier concentration per agency (Herfindahl-Hirschman index of awarded value) (public)")
async def award_concentration(
    agency_id: AgencyP = None, supplier_ruc: RucP = None, region: RegionP = None, province: ProvinceP = None,
    method: MethodP = None, category: CategoryP = None, classification: ClassP = None, date_from: FromP = None,
    date_to: ToP = None, value_min: VMinP = None, value_max: VMaxP = None, award_state: StateP = None,
    publisher: PublisherP = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> list[s.ConcentrationRow]:
    f = _filters(agency_id, supplier_ruc, region, province, method, category, classification, date_from, date_to,
                 value_min, value_max, award_state, publisher)
    return await service.award_concentration(f, limit=limit)


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
    publisher: PublisherP = None,
) -> Stream:
    f = _filters(agency_id, supplier_ruc, region, province, method, category, classification, date_from, date_to,
                 value_min, value_max, award_state, publisher)
    chunks, media_type = service.award_export(f, format)
    return Stream(chunks, media_type=media_type,
                  headers={"Content-Disposition": f'attachment; filename="awards.{format}"'})


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
    region: Annotated[str | None, QueryParameter(max_length=2, description="region (first 2 digits of the ubigeo) "
                                                 "of delivery, else of the buyer; our own processes only")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=redflag_model.MAX_LIMIT, description="page size")] = 50,
    cursor: Annotated[str | None,
                      QueryParameter(max_length=200, description="`next_cursor` of the previous page")] = None,
) -> RedFlagPage:
    return await redflag_model.page(code=code, buyer=buyer, supplier=supplier, publisher=publisher, ocid=ocid,
                                    date_from=date_from, date_to=date_to, region=region, cursor=cursor,
                                    limit=limit)


@get("/api/v1/oversight/tenders/{tender_id:uuid}/red-flags", tags=TAGS,
     summary="One tender's red flags, from the read model by its ocid (public; as /red-flags?ocid=)")
async def tender_red_flags(
    tender_id: FromPath[UUID],
    limit: Annotated[int, QueryParameter(ge=1, le=redflag_model.MAX_LIMIT, description="page size")] = 50,
    cursor: Annotated[str | None,
                      QueryParameter(max_length=200, description="`next_cursor` of the previous page")] = None,
) -> RedFlagPage:
    return await service.tender_red_flags(tender_id, cursor=cursor, limit=limit)


@get("/api/v1/oversight/stage-times", tags=TAGS,
     summary="How long each stage takes: p50 and p90 in days per agency and method (public)")
async def stage_times(
    settings: SettingsDep, agency_id: AgencyP = None, method: MethodP = None, publisher: PublisherP = None,
) -> s.StageTimes:
    return await service.stage_times(settings, agency_id=agency_id, method=method, publisher=publisher)


@get("/api/v1/oversight/alarms", tags=TAGS,
     summary="Tenders stuck in a stage past its limit: raised alarms and what is stuck now (oversight bodies)")
async def list_alarms(
    actor: ActorDep, settings: SettingsDep,
    include_cleared: Annotated[bool, QueryParameter(description="also alarms whose tender moved on")] = False,
) -> s.Alarms:
    return await service.alarms(actor, settings, include_cleared=include_cleared)


@get("/api/v1/oversight/notifications", tags=TAGS, summary="What oversight told your agency (agency users)")
async def agency_notifications(actor: ActorDep) -> list[s.NotificationRead]:
    return await service.agency_notifications(actor)


@get("/api/v1/oversight/tenders/{tender_id:uuid}/audit", tags=TAGS,
     summary="A tender's full audit trail: the tender, its lots, bids, auctions, awards, appeals, contracts and "
             "their payments "
             "(oversight bodies and the platform). Check the chain at /api/v1/audit/verify.")
async def tender_audit(
    tender_id: FromPath[UUID], actor: ActorDep,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
    after: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{1,18}$", description="`next_cursor`")] = None,
) -> AuditEventPage:
    return await service.tender_audit(actor, tender_id, limit=limit, after=int(after or 0))


@get("/api/v1/oversight/publishers", tags=TAGS,
     summary="OCDS publishers whose processes are here (ours and imported), with counts and last import (public)")
async def list_publishers() -> list[s.PublisherRead]:
    return await service.publishers()


@get("/api/v1/oversight/processes/{ocid:str}", tags=TAGS,
     summary="One contracting process, ours or imported: its releases (timeline), lots, bids where published, "
             "awards and contracts, its publisher and a link to the source (public)")
async def get_process(ocid: FromPath[str], settings: SettingsDep) -> s.ProcessRead:
    return await service.process(settings, ocid)


# --- OCDS -----------------------------------------------------------------------------------------------

def _json(document: bytes) -> Response[dict[str, Any]]:
    """OCDS JSON encoded by the service (amounts as exact decimal numbers), documented as the object it is."""
    return Response(document, media_type=OCDS_JSON)  # type: ignore[arg-type]


@get("/ocds/releases", tags=["ocds"], summary="OCDS release package: the change feed of releases in commit "
     "order (pass `since` = links.next's cursor; a release that commits late is never skipped)")
async def ocds_releases(
    settings: SettingsDep,
    since: Annotated[str | None, QueryParameter(max_length=60, description="cursor from links.next")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> Response[dict[str, Any]]:
    return _json(await service.ocds_release_feed(settings, since=since, limit=limit))


@get("/ocds/releases/{release_id:str}", tags=["ocds"], summary="One OCDS release, in a release package")
async def ocds_release(release_id: FromPath[str], settings: SettingsDep) -> Response[dict[str, Any]]:
    return _json(await service.ocds_release(settings, release_id))


@get("/ocds/records/{ocid:str}", tags=["ocds"],
     summary="The OCDS record of one contracting process (every release and the compiled release)")
async def ocds_record(ocid: FromPath[str], settings: SettingsDep) -> Response[dict[str, Any]]:
    return _json(await service.ocds_record(settings, ocid))


@get("/ocds/bulk", tags=["ocds"],
     summary="Daily bulk files: every release published that day, gzip JSON Lines (today's so far: incomplete)")
async def ocds_bulk_list(settings: SettingsDep) -> list[s.BulkFile]:
    return service.ocds_bulk_files(settings)


@get("/ocds/bulk/{name:str}", tags=["ocds"], summary="One daily bulk file")
async def ocds_bulk_file(name: FromPath[str], settings: SettingsDep) -> File:
    return File(path=service.ocds_bulk_path(settings, name), filename=name, media_type="application/gzip")


ROUTES = [list_publishers, get_process, list_awards, award_aggregates, award_concentration, export_awards, red_flags,
          tender_red_flags, stage_times, list_alarms, agency_notifications, tender_audit, ocds_releases, ocds_release,
          ocds_record, ocds_bulk_list, ocds_bulk_file]
