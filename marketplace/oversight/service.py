"""Oversight's use cases: what the API (and the CLI) ask of oversight, with the authorisation in here.

Public reads (anyone, signed in or not): the award history (pages, aggregates, concentration, export), red
flags, stage times, the OCDS publishers, one contracting process, our OCDS publication (feed, releases,
records, bulk files). Oversight bodies and the platform: stage alarms and a tender's
whole audit trail. An agency: the notifications oversight sent to it (its own only: the query is scoped by
the actor's organisation). Each function checks the actor before it reads; the sub-packages (awards,
stages, redflags, imports, ocds) hold the read models and their SQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

from marketplace.core.actor import Actor, require
from marketplace.core.audit_api import AuditEventPage
from marketplace.core.errors import InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.oversight import policy as policy_mod
from marketplace.oversight import process as process_view
from marketplace.oversight import queries as q
from marketplace.oversight import schemas as s
from marketplace.oversight.awards import export
from marketplace.oversight.awards import service as history
from marketplace.oversight.imports import service as imports
from marketplace.oversight.ocds import publisher
from marketplace.oversight.redflags import readmodel as redflag_model
from marketplace.oversight.redflags.schemas import RedFlagPage
from marketplace.oversight.stages import service as stages
from marketplace.settings import Settings

OVERSEERS = ("oversight", "platform")

# --- award history (public) -------------------------------------------------------------------------------


async def award_page(filters: history.Filters, *, limit: int, cursor: str | None) -> s.AwardHistoryPage:
    rows, nxt = await history.page(filters=filters, limit=limit, cursor=cursor)
    return s.AwardHistoryPage(items=[s.AwardHistoryRead(**{**r, "currency": r["currency"].strip()}) for r in rows],
                              next_cursor=nxt)


async def award_aggregates(filters: history.Filters, *, by: str, limit: int) -> s.Aggregates:
    if by not in history.GROUPS:
        raise InvalidInput(N_("Group by supplier, agency, region or method"), field="query.by", rule="enum")
    rows = await history.aggregates(filters=filters, by=by, limit=limit)
    return s.Aggregates(by=by, items=[s.AggregateRow(key=str(r["key"]), label=r["label"], count=r["count"],
                                                     total=r["total"], currency=r["currency"]) for r in rows])


async def award_concentration(filters: history.Filters, *, limit: int) -> list[s.ConcentrationRow]:
    return [s.ConcentrationRow(**r) for r in await history.concentration(filters=filters, limit=limit)]


def award_export(filters: history.Filters, fmt: str) -> tuple[AsyncIterator[bytes], str]:
    """The export's chunks and media type; a bad format or filter is refused before the stream starts."""
    if fmt not in export.FORMATS:
        raise InvalidInput(N_("The export format is csv or jsonl"), field="query.format", rule="enum")
    filters.check()
    return export.encode(filters=filters, fmt=fmt), export.FORMATS[fmt]


# --- red flags and stage times (public) -------------------------------------------------------------------


async def tender_red_flags(tender_id: UUID, *, cursor: str | None = None, limit: int = 50) -> RedFlagPage:
    """One tender's flags from the red-flag read model (by its ocid): the same codes, evidence and pages as
    GET /api/v1/oversight/red-flags?ocid=, so the tender's page and the list agree."""
    t = await q.tender_state(tender_id)
    if t is None or t.state == "draft":  # a draft is not public
        raise NotFound(N_("Tender not found"))
    return await redflag_model.page(ocid=t.ocid, cursor=cursor, limit=limit)


async def stage_times(settings: Settings, *, agency_id: UUID | None, method: str | None,
                      publisher: str | None = None) -> s.StageTimes:
    history.Filters(method=method, publisher=publisher).check()
    rows = await stages.stage_times(agency_id=agency_id, method=method, publisher=publisher)
    return s.StageTimes(limits_days=policy_mod.of(settings).stage_limit_days, items=[s.StageTime(**r) for r in rows])


async def publishers() -> list[s.PublisherRead]:
    return await imports.public_publishers()


async def process(settings: Settings, ocid: str) -> s.ProcessRead:
    """A contracting process (ours or imported) from its compiled release, with its releases as the timeline."""
    if len(ocid) > 200 or not ocid.isprintable():
        raise NotFound(N_("Process not found"))
    row = await q.process(ocid)
    if row is None:
        raise NotFound(N_("Process not found"))
    releases = await q.process_releases(ocid, own=row.publisher_own, limit=process_view.RELEASES_SHOWN)
    tender_id = await q.own_tender_id(ocid) if row.publisher_own else None
    return process_view.build(row, releases, tender_id=tender_id,
                              own_record_url=f"{settings.public_base_url.rstrip('/')}/ocds/records/{ocid}")


# --- oversight bodies and agencies ------------------------------------------------------------------------


async def alarms(actor: Actor, settings: Settings, *, include_cleared: bool) -> s.Alarms:
    require(actor, OVERSEERS)
    raised = await stages.alarms(open_only=not include_cleared)
    stuck = await stages.stuck(settings)
    return s.Alarms(alarms=[s.AlarmRead(**a) for a in raised], stuck_now=[s.StuckRead(**r) for r in stuck])


async def agency_notifications(actor: Actor) -> list[s.NotificationRead]:
    """What oversight told the actor's own agency."""
    require(actor, "agency")
    assert actor.org_id is not None  # an agency user always has its organisation
    return [s.NotificationRead(**r) for r in await stages.notifications(agency_id=actor.org_id)]


async def tender_audit(actor: Actor, tender_id: UUID, *, limit: int, after: int) -> AuditEventPage:
    """The tender's whole audit trail (its lots, bids, auctions, awards, appeals, contracts, payments)."""
    require(actor, OVERSEERS)
    if await q.tender_state(tender_id) is None:
        raise NotFound(N_("Tender not found"))
    items = await q.tender_audit_events(tender_id, after=after, limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return AuditEventPage(items=items, next_cursor=str(items[-1].id) if more and items else None)


# --- the OCDS publication (public) ------------------------------------------------------------------------


def _plain(ident: str, message: str) -> None:
    """Ids are short printable text; anything else names nothing we publish."""
    if len(ident) > 200 or not ident.isprintable():
        raise NotFound(message)


async def ocds_release_feed(settings: Settings, *, since: str | None, limit: int) -> bytes:
    """A release package of the releases after `since` (commit order), linking to the next page."""
    releases, nxt = await publisher.feed(since=since, limit=limit)
    base = settings.public_base_url.rstrip("/")
    uri = f"{base}/ocds/releases" + (f"?since={since}" if since else "")
    return publisher.encode(publisher.release_package(settings, uri, releases, links={
        "next": f"{base}/ocds/releases?since={nxt}&limit={limit}"}))


async def ocds_release(settings: Settings, release_id: str) -> bytes:
    _plain(release_id, N_("Release not found"))
    release = await publisher.get_release(release_id)
    uri = f"{settings.public_base_url.rstrip('/')}/ocds/releases/{release_id}"
    return publisher.encode(publisher.release_package(settings, uri, [release]))


async def ocds_record(settings: Settings, ocid: str) -> bytes:
    _plain(ocid, N_("Record not found"))
    record = await publisher.record(ocid)
    uri = f"{settings.public_base_url.rstrip('/')}/ocds/records/{ocid}"
    return publisher.encode(publisher.record_package(settings, uri, [record]))


def ocds_bulk_files(settings: Settings) -> list[s.BulkFile]:
    return [s.BulkFile(**x) for x in publisher.list_bulk(settings)]


def ocds_bulk_path(settings: Settings, name: str) -> Path:
    """The daily bulk file called `name` (only names we write, inside the bulk folder)."""
    if not name.startswith("releases-") or not name.endswith(".jsonl.gz") or "/" in name or ".." in name:
        raise NotFound(N_("File not found"))
    path = publisher.bulk_dir(settings) / name
    if not path.is_file():
        raise NotFound(N_("File not found"))
    return path
