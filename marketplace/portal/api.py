"""The public portal's pages: read-only, anonymous, server-rendered (Jinja), charts as inline SVG.

GET /                         home: tender and catalogue search for a chosen place, key figures, the map
GET /tenders                  tender search and list (local first for a chosen place)
GET /tenders/{id}             one tender: timeline, lots, documents, enquiries, opening, reverse auctions, score
                              sheets, awards, contracts, red flags
GET /catalog                  catalogue offers, local suppliers first
GET /suppliers/{id}           a supplier's registry entry and award history
GET /agencies/{id}            an agency's record, award history and supplier concentration
GET /awards                   the award history explorer (filters, charts); /awards.csv downloads it
GET /red-flags  /stage-times  oversight's indicators, explained
GET /datos-abiertos           what is published as open data: the OCDS feed, records and bulk files, CSV files
                              (/datos-abiertos/{convocatorias,adjudicaciones,contratos,alertas}.csv), licence
GET /processes/{ocid}         one contracting process, ours or imported (portal/processes.py)
GET /verify                   how to verify the audit trail and a bid receipt; POST /verify/receipt checks one
GET /language/{code}          sets the `lang` cookie and goes back
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Request, Router, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Stream, Template
from litestar.static_files import create_static_files_router

from marketplace.agencies import service as agencies
from marketplace.core import clock, geo, i18n
from marketplace.core import errors as core_errors
from marketplace.core.actor import ANONYMOUS
from marketplace.core.audit_api import keys_of
from marketplace.core.deps import SettingsDep
from marketplace.core.errors import DomainError, InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.core.i18n import gettext as _
from marketplace.portal import caching, charts, errors, formatting, labels, opendata, sources
from marketplace.portal.processes import process_page
from marketplace.portal.templating import STATIC
from marketplace.settings import Settings
from search import service as search
from search.protocol import SearchUnavailable
from suppliers import service as suppliers
from tenders import service as tenders
from tenders.auctions import service as auctions_svc
from tenders.awards import service as awards_svc
from tenders.bids import service as bids
from tenders.evaluation import service as evaluation

PAGE = 20


def _uuid(value: str, message: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(message) from None


def _query(request: Request[Any, Any, Any], **changes: Any) -> str:
    """The current query string with `changes` applied (None removes a key)."""
    params = {k: v for k, v in request.query_params.items() if v not in ("", None)}
    params.pop("lang", None)
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = v
    return urlencode(params)


def _int(value: str | None, default: int = 0, top: int = 10_000) -> int:
    try:
        return max(0, min(int(value or default), top))
    except ValueError:
        return default


class Paged:
    """A search page as the portal shows it: PAGE hits at most, whether another page follows (asked for one
    more hit than shown, so "Next" never opens an empty page), and the count in words: exact when the search
    counted exactly or when this is the last page; otherwise only what is known for sure ("more than N")."""

    def __init__(self, page: Any, offset: int, limit: int) -> None:
        self.hits = page.hits[:limit]
        self.has_next = len(page.hits) > limit
        self.corrected = page.corrected
        self.offset = offset
        if page.total_exact:
            self.total, self.exact = int(page.total), True
        elif not self.has_next and self.hits:
            self.total, self.exact = offset + len(self.hits), True
        else:
            self.total, self.exact = offset + len(self.hits), False
        self.past_end = not self.hits and offset > 0
        self.first = offset + 1
        self.last = offset + len(self.hits)


def _region_of(ubigeo: str | None) -> str | None:
    return ubigeo[:2] if ubigeo and geo.is_valid_ubigeo(ubigeo) else None


def _error(exc: DomainError) -> str:
    return _(exc.detail or exc.title, **exc.params)


# ----------------------------------------------------------------------------------------------------- home


@get("/", name="portal:home")
async def home(request: Request[Any, Any, Any], settings: SettingsDep) -> Template:

    open_tenders: list[Any] = []
    try:
        page = await search.search_tenders(actor=ANONYMOUS, index=search.backend(settings),
                                           states=["published", "tendering"], limit=6)
        open_tenders = page.hits
    except Exception:  # search being down must not take the home page with it
        open_tenders = []
    f = sources.filters()
    regions = await sources.totals_by(f, "region", limit=30)
    values = {r["key"]: float(r["total"]) for r in regions}
    total = sum(int(r["total"]) for r in regions)
    count = sum(int(r["count"]) for r in regions)
    peru = charts.peru_map(values, title=_("Awarded value by region"),
                           desc=_("A map of Peru's regions shaded by the total value awarded for delivery"
                                          " in each."),
                           fmt=formatting.money_short, link=lambda c: f"/awards?region={c}",
                           no_data=_("No awards"), ident="home-map")
    return Template("home.html", context={"open_tenders": open_tenders, "map": peru, "total": total,
                                          "count": count, "regions": regions})


# -------------------------------------------------------------------------------------------------- tenders


@get("/tenders", name="portal:tenders")
async def tender_list(request: Request[Any, Any, Any], settings: SettingsDep) -> Template:

    q = request.query_params.get("q", "")[:200]
    ubigeo = request.query_params.get("ubigeo") or None
    state = request.query_params.get("state") or None
    method = request.query_params.get("method") or None
    category = request.query_params.get("category") or None
    offset = _int(request.query_params.get("offset"))
    size = max(1, min(_int(request.query_params.get("limit"), PAGE), 100))
    error = None
    status = 422
    page = None
    try:
        page = await search.search_tenders(
            actor=ANONYMOUS, index=search.backend(settings), q=q, ubigeo=ubigeo,
            states=[state] if state else None, methods=[method] if method else None,
            categories=[category] if category else None, offset=offset, limit=size + 1)
    except InvalidInput as exc:
        error = _error(exc)
    except SearchUnavailable:
        error, status = _("Search is not available right now; try again in a moment."), 503
    ctx = {"q": q, "ubigeo": ubigeo or "", "state": state or "", "method": method or "", "category": category or "",
           "page": Paged(page, offset, size) if page is not None else None, "error": error, "offset": offset,
           "limit": size, "next_query": _query(request, offset=offset + size),
           "prev_query": _query(request, offset=max(offset - size, 0))}
    return Template("tenders.html", context=ctx, status_code=status if error else 200)


def _timeline(t: Any, awards: list[Any], contracts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    now = clock.now()
    steps = [
        (N_("Published"), t.published_at),
        (N_("Enquiries close"), t.enquiry_end),
        (N_("Bids due"), t.submission_deadline),
        (N_("Bids opened"), t.opened_at or t.opening_time),
    ]
    notified = [a.notified_at for a in awards]
    if notified:
        steps.append((N_("Awarded"), min(notified)))
        steps.append((N_("Standstill ends"), max(a.standstill_ends_at for a in awards)))
    signed = [d for c in contracts if (d := c.get("dateSigned"))]
    if signed:
        steps.append((N_("Contract signed"), min(signed)))
    out = []
    for msgid, at in steps:
        if at is None:
            continue
        if isinstance(at, str):

            at = datetime.fromisoformat(at.replace("Z", "+00:00"))
        out.append({"label": _(msgid), "at": at, "past": at <= now})
    return out


@get("/tenders/{tender_id:str}", name="portal:tender")
async def tender_page(tender_id: FromPath[str], settings: SettingsDep) -> Template:

    tid = _uuid(tender_id, N_("Tender not found"))
    t = await tenders.get_tender(actor=ANONYMOUS, tender_id=tid)
    enquiries = await tenders.list_enquiries(actor=ANONYMOUS, tender_id=tid)
    try:
        opening = await bids.get_opening(actor=ANONYMOUS, tender_id=tid)
    except NotFound:
        opening = None
    sheets = [s for s in await evaluation.score_sheets(actor=ANONYMOUS, settings=settings, tender_id=tid)
              if not s.provisional]
    awards = await awards_svc.list_awards(actor=ANONYMOUS, tender_id=tid)
    appeals = [p for a in awards for p in await awards_svc.list_appeals(actor=ANONYMOUS, award_id=a.id)]
    try:
        agency = await agencies.get_agency(actor=ANONYMOUS, agency_id=t.agency_id)
    except NotFound:
        agency = None
    release = await sources.release(tender_id=tid, ocid=t.ocid)
    contracts = (release or {}).get("contracts", [])
    lot_titles = {lot.id: lot for lot in t.lots}
    auctions = [_auction_view(a, lot_titles.get(a.lot_id))
                for a in await auctions_svc.list_auctions(actor=ANONYMOUS, tender_id=tid)]
    now = clock.now()
    left = (t.submission_deadline - now).total_seconds() if t.submission_deadline else None
    open_for_bids = t.state in ("published", "tendering") and left is not None and left > 0
    # The read model's flags of this process (the same codes as /red-flags and the API), first page only.
    flag_page = await sources.red_flag_page(ocid=t.ocid, limit=100) if t.ocid else None
    flags = flag_page.items if flag_page is not None else None
    criteria = {}
    for s in sheets:
        for c in ((s.sheet or {}).get("rules") or {}).get("criteria", []):
            criteria[c["code"]] = c["name"]
    return Template("tender.html", context={
        "t": t, "agency": agency, "enquiries": enquiries, "opening": opening, "sheets": sheets, "awards": awards,
        "appeals": appeals,
        "contracts": contracts, "lots_by_id": lot_titles, "criteria": criteria,
        "timeline": _timeline(t, awards, contracts), "ocds_url": f"/ocds/records/{t.ocid}",
        "total_estimate": sum(lot.estimated_value.amount for lot in t.lots), "auctions": auctions,
        "countdown": formatting.countdown(left) if open_for_bids else None, "flags": flags,
    })


def _auction_view(board: Any, lot: Any) -> dict[str, Any]:
    """A lot's reverse auction as the public sees it at request time (the anonymous board; names once it ended):
    the board itself, its lot, the seconds left when running, the winner's standing once closed, and the
    minimum decrement as a fraction for the percent filter."""
    winner = board.standings[0] if board.state == "closed" and board.standings else None
    left = (board.ends_at - board.server_time).total_seconds() if board.state == "running" else None
    return {"board": board, "lot": lot, "winner": winner, "time_left": max(0, int(left)) if left is not None else None,
            "decrement_fraction": Decimal(str(board.policy.min_decrement_percent)) / 100}


# -------------------------------------------------------------------------------------------------- catalog


@get("/catalog", name="portal:catalog")
async def catalog(request: Request[Any, Any, Any], settings: SettingsDep) -> Template:

    q = request.query_params.get("q", "")[:200]
    ubigeo = request.query_params.get("ubigeo") or None
    offset = _int(request.query_params.get("offset"))
    size = max(1, min(_int(request.query_params.get("limit"), PAGE), 100))
    error = page = None
    status = 422
    if q or ubigeo:
        try:
            page = await search.search_catalog(actor=ANONYMOUS, index=search.backend(settings), q=q,
                                               ubigeo=ubigeo, offset=offset, limit=size + 1)
        except InvalidInput as exc:
            error = _error(exc)
        except SearchUnavailable:
            error, status = _("Search is not available right now; try again in a moment."), 503
    return Template("catalog.html", context={
        "q": q, "ubigeo": ubigeo or "", "page": Paged(page, offset, size) if page is not None else None,
        "error": error, "offset": offset, "limit": size,
        "next_query": _query(request, offset=offset + size),
        "prev_query": _query(request, offset=max(offset - size, 0)),
    }, status_code=status if error else 200)


# ------------------------------------------------------------------------------------------------- profiles


async def _history(f: Any) -> dict[str, Any]:
    rows, nxt = await sources.award_page(f, limit=50)
    by_region = await sources.totals_by(f, "region", limit=30)
    return {"rows": rows, "more": nxt is not None, "by_region": by_region,
            "total": sum(int(r["total"]) for r in by_region),
            "count": sum(int(r["count"]) for r in by_region),
            "map": charts.peru_map({r["key"]: float(r["total"]) for r in by_region},
                                   title=_("Awarded value by region"),
                                   desc=_("A map of Peru's regions shaded by the total value awarded for delivery"
                                          " in each."),
                                   fmt=formatting.money_short, no_data=_("No awards"), ident="profile-map")}


@get("/suppliers/{org_id:str}", name="portal:supplier")
async def supplier_page(org_id: FromPath[str]) -> Template:

    sid = _uuid(org_id, N_("Supplier not found"))
    s = await suppliers.read_supplier(actor=ANONYMOUS, org_id=sid)
    f = sources.filters(supplier_ruc=s.ruc) if s.ruc else None
    history = await _history(f)
    agencies = await sources.totals_by(f, "agency", limit=10)
    return Template("supplier.html", context={"s": s, "history": history, "agencies": agencies,
                                              "awards_query": urlencode({"supplier_ruc": s.ruc or ""})})


@get("/agencies/{org_id:str}", name="portal:agency")
async def agency_page(org_id: FromPath[str], settings: SettingsDep) -> Template:

    aid = _uuid(org_id, N_("Agency not found"))
    a = await agencies.get_agency(actor=ANONYMOUS, agency_id=aid)
    f = sources.filters(agency_id=aid)
    history = await _history(f)
    suppliers = await sources.totals_by(f, "supplier", limit=10)
    conc = await sources.concentration_sized(f, settings.portal_min_sample, limit=1)
    top = [(r["label"] or r["key"], float(r["total"]), formatting.money(int(r["total"]))) for r in suppliers]
    chart = charts.hbars(top, title=_("Largest suppliers of this agency"),
                         desc=_("Total value awarded to each supplier, largest first."), ident="agency-suppliers")
    return Template("agency.html", context={"a": a, "history": history, "suppliers": suppliers,
                                            "concentration": conc[0] if conc else None, "chart": chart,
                                            "min_sample": settings.portal_min_sample,
                                            "awards_query": urlencode({"agency_id": str(aid)})})


# --------------------------------------------------------------------------------------------- the explorer

FILTER_KEYS = ("agency_id", "supplier_ruc", "region", "province", "method", "category", "classification",
               "from", "to", "state")


def _filters_from(request: Request[Any, Any, Any]) -> tuple[Any, dict[str, str]]:
    form = {k: (request.query_params.get(k) or "").strip() for k in FILTER_KEYS}
    agency = None
    if form["agency_id"]:
        try:
            agency = UUID(form["agency_id"])
        except ValueError:
            raise InvalidInput(N_("Not a valid agency id"), field="query.agency_id", rule="uuid") from None
    f = sources.filters(agency_id=agency, supplier_ruc=form["supplier_ruc"], region=form["region"],
                        province=form["province"], method=form["method"], category=form["category"],
                        classification=form["classification"], date_from=form["from"], date_to=form["to"],
                        state=form["state"])
    return f, form


@get("/awards", name="portal:awards")
async def awards_explorer(request: Request[Any, Any, Any], settings: SettingsDep) -> Template:
    error = None
    try:
        f, form = _filters_from(request)
    except InvalidInput as exc:
        error, f = _error(exc), None
        form = {k: request.query_params.get(k) or "" for k in FILTER_KEYS}
    cursor = request.query_params.get("cursor") or None
    limit = max(1, min(_int(request.query_params.get("limit"), 50), 200))
    rows: list[Any] = []
    nxt = None
    if request.headers.get("hx-request") and f is not None and error is None:
        # htmx's "More awards": only the next rows and the pager (a bad cursor gets the whole page below)
        try:
            rows, nxt = await sources.award_page(f, cursor=cursor, limit=limit)
            return Template("awards_rows.html", context={
                "rows": rows, "next_query": _query(request, cursor=nxt) if nxt else None})
        except InvalidInput:
            pass
    ctx: dict[str, Any] = {"form": form, "error": error, "available": sources.available(), "agency": None}
    if f is not None and f.agency_id is not None:

        with contextlib.suppress(NotFound):
            ctx["agency"] = await agencies.get_agency(actor=ANONYMOUS, agency_id=f.agency_id)
    if f is not None:
        try:
            rows, nxt = await sources.award_page(f, cursor=cursor, limit=limit)
        except InvalidInput as exc:
            error = ctx["error"] = _error(exc)
        months, partial = await sources.by_month(f)
        by_region = await sources.totals_by(f, "region", limit=30)
        suppliers = await sources.totals_by(f, "supplier", limit=10)
        conc = await sources.concentration_sized(f, settings.portal_min_sample, limit=10)
        sized = [r for r in conc if r["enough"]]
        ctx.update({
            "total": sum(int(r["total"]) for r in by_region), "count": sum(int(r["count"]) for r in by_region),
            "months": months, "months_partial": partial, "by_region": by_region, "suppliers": suppliers,
            "concentration": conc, "min_sample": settings.portal_min_sample,
            "months_chart": charts.bars([(formatting.month(m), float(v)) for m, _n, v in months],
                                        years=[m[:4] for m, _n, _v in months], title=_("Awarded value by month"),
                                        desc=_("Total value of the awards made each month (Lima time)."),
                                        fmt=formatting.money_short, ident="months"),
            "map": charts.peru_map({r["key"]: float(r["total"]) for r in by_region},
                                   title=_("Awarded value by region"),
                                   desc=_("A map of Peru's regions shaded by the total value awarded for delivery"
                                          " in each."),
                                   fmt=formatting.money_short,
                                   link=lambda c: "/awards?" + _query(request, region=c, cursor=None),
                                   no_data=_("No awards"), ident="awards-map"),
            "suppliers_chart": charts.hbars(
                [(r["label"] or r["key"], float(r["total"]), formatting.money(int(r["total"]))) for r in suppliers],
                title=_("Largest suppliers"), desc=_("Total value awarded to each supplier, largest first."),
                ident="suppliers"),
            "concentration_chart": charts.hbars(
                [(r["agency_name"], float(r["hhi"]), formatting.number(r["hhi"], 0)) for r in sized],
                title=_("Supplier concentration by agency"),
                desc=_("Herfindahl-Hirschman index of each agency's suppliers' shares (0 to 10,000; above 2,500 "
                       "is highly concentrated)."), ident="hhi", max_value=10_000),
        })
    ctx.update({"rows": rows, "next_query": _query(request, cursor=nxt) if nxt else None,
                "csv_query": _query(request, cursor=None)})
    return Template("awards.html", context=ctx, status_code=422 if error else 200)


def _csv(dataset: opendata.Dataset, batches: Any) -> Stream:
    stamp = clock.now().astimezone(formatting.LIMA).strftime("%Y%m%d")
    return Stream(opendata.encode(dataset, batches), media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": f'attachment; filename="{dataset.filename}-{stamp}.csv"',
                           "Cache-Control": "public, max-age=300"})


@get("/awards.csv", name="portal:awards_csv")
async def awards_csv(request: Request[Any, Any, Any]) -> Stream:
    """The explorer's awards, filtered as on the page (amounts in soles, Lima times, a BOM: opendata)."""
    f, _form = _filters_from(request)
    if f is None:
        raise NotFound(N_("The award history is not available"))
    return _csv(opendata.AWARDS, opendata.award_rows(f))


# ------------------------------------------------------------------------------------------------ open data


@get("/datos-abiertos", name="portal:open_data")
async def open_data(settings: SettingsDep) -> Template:
    base = settings.public_base_url.rstrip("/")
    return Template("open_data.html", context={
        "base": base, "datasets": list(opendata.DATASETS.values()), "bulk": sources.bulk_files(settings),
        "today": clock.now()})


@get("/datos-abiertos/{name:str}", name="portal:open_data_csv")
async def open_data_csv(name: FromPath[str], settings: SettingsDep) -> Stream:
    dataset = opendata.BY_FILENAME.get(name.removesuffix(".csv")) if name.endswith(".csv") else None
    if dataset is None:
        raise NotFound(N_("Page not found"))
    if dataset is opendata.AWARDS:
        return _csv(dataset, opendata.award_rows(sources.filters()))
    if dataset is opendata.TENDERS:

        return _csv(dataset, opendata.tender_rows(search.backend(settings)))
    if dataset is opendata.CONTRACTS:
        return _csv(dataset, opendata.contract_rows())
    return _csv(dataset, opendata.red_flag_rows(sources.red_flag_pages()))


# ------------------------------------------------------------------------------------------------ oversight


RED_FLAG_KEYS = ("code", "buyer", "supplier", "publisher", "region", "from", "to")


@get("/red-flags", name="portal:red_flags")
async def red_flags(request: Request[Any, Any, Any]) -> Template:
    """Oversight's red-flag read model (the API's GET /api/v1/oversight/red-flags), newest first, in keyset
    pages, with its filters; one process's flags with ?tender=<id>. Each flag with its name, what it means
    and its evidence in the reader's language."""
    tender = None
    if request.query_params.get("tender"):

        tid = _uuid(request.query_params["tender"], N_("Tender not found"))
        tender = await tenders.get_tender(actor=ANONYMOUS, tender_id=tid)
    form = {k: (request.query_params.get(k) or "").strip() for k in RED_FLAG_KEYS}
    error = None
    page = None
    try:
        page = await sources.red_flag_page(
            code=form["code"], buyer=form["buyer"], supplier=form["supplier"], publisher=form["publisher"],
            region=form["region"], date_from=form["from"], date_to=form["to"],
            ocid=tender.ocid if tender else None, cursor=request.query_params.get("cursor"),
            limit=max(1, min(_int(request.query_params.get("limit"), 50), 200)))
    except InvalidInput as exc:
        error = _error(exc)
    flags = page.items if page is not None else []
    return Template("red_flags.html", context={
        "flags": flags, "codes": sources.red_flag_codes(), "tender": tender, "form": form, "error": error,
        "available": page is not None or error is not None,
        "next_query": _query(request, cursor=page.next_cursor) if page is not None and page.next_cursor else None,
        "evidence_text": _evidence_text}, status_code=422 if error else 200)


def _evidence_text(value: Any) -> str:
    """An evidence value as a reader sees it: lists joined, numbers in the reader's format, text as it is."""
    if isinstance(value, list):
        return ", ".join(_evidence_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{labels.label('evidence', k)}: {_evidence_text(v)}" for k, v in value.items())
    if isinstance(value, bool) or value is None:
        return str(value) if value is not None else "—"
    if isinstance(value, int | float):
        return formatting.number(value, 0 if float(value).is_integer() else 4)
    return str(value)


@get("/stage-times", name="portal:stage_times")
async def stage_times(settings: SettingsDep) -> Template:
    raw = await sources.stage_times()
    rows = sources.stage_rows(raw, settings.portal_min_sample)
    stuck = await sources.stuck(settings)
    per_stage: dict[str, list[float]] = {}
    for r in rows:
        acc = per_stage.setdefault(r["stage"], [0.0, 0.0])
        acc[0] += r["p50_days"] * r["count"]
        acc[1] += r["count"]
    order = list(labels.STAGES)
    stages = [(s, acc[0] / acc[1], int(acc[1])) for s, acc in
              sorted(per_stage.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99) if acc[1]]
    enough = [n >= settings.portal_min_sample for _s, _v, n in stages]
    points = [(labels.label("stage", s), v if ok else 0.0,
               _("{days} (n={n})", days=formatting.days(v), n=formatting.number(n)) if ok
               else _("not enough data (n={n})", n=formatting.number(n)))
              for (s, v, n), ok in zip(stages, enough, strict=True)]
    chart = charts.hbars(points, title=_("Typical days in each stage"),
                         desc=_("Median days each stage took, averaged over agencies and methods weighted by the "
                                "number of tenders."), ident="stages", muted=[not ok for ok in enough])
    return Template("stage_times.html", context={"rows": rows, "stuck": stuck, "chart": chart,
                                                 "available": raw is not None,
                                                 "min_sample": settings.portal_min_sample})


# --------------------------------------------------------------------------------------------------- verify


def _keys(settings: Settings) -> Any:

    return keys_of(settings)


@get("/verify", name="portal:verify")
async def verify(settings: SettingsDep) -> Template:
    return Template("verify.html", context={"keys": _keys(settings), "result": None, "receipt": ""})


@post("/verify/receipt", name="portal:verify_receipt", status_code=200)
async def verify_receipt(
    settings: SettingsDep,
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template:
    """Checks a pasted bid receipt against the platform's public key (writes nothing)."""

    text = (data.get("receipt") or "")[:10_000]
    keys = _keys(settings)
    try:
        receipt = json.loads(text)
        if not isinstance(receipt, dict):
            raise ValueError
        ok = bids.verify_receipt(keys.public_key, receipt)
        result = "valid" if ok else "invalid"
    except (ValueError, TypeError, AttributeError):  # not JSON, not an object, fields of the wrong type
        result = "unreadable"
    return Template("verify.html", context={"keys": keys, "result": result, "receipt": text})


# ------------------------------------------------------------------------------------------------- language


@get("/language/{code:str}", name="portal:language")
async def language(code: FromPath[str], request: Request[Any, Any, Any]) -> Redirect:
    lang = i18n.language(code)
    nxt = request.query_params.get("next") or "/"
    if not nxt.startswith("/") or nxt.startswith("//") or "\\" in nxt:
        nxt = "/"
    return Redirect(path=nxt, cookies=[Cookie(key="lang", value=lang, max_age=365 * 24 * 3600, path="/",
                                              samesite="lax")])


portal = Router(
    path="/",
    route_handlers=[home, tender_list, tender_page, catalog, supplier_page, agency_page, awards_explorer,
                    awards_csv, open_data, open_data_csv, red_flags, stage_times, verify, verify_receipt, language,
                    process_page],
    # the portal's pages answer errors as pages (problem+json still to a client that asks for JSON)
    exception_handlers=errors.negotiate_all(core_errors.exception_handlers, page=True),
    include_in_schema=False,
    tags=["portal"],
    middleware=[caching.page_cache],
)
# fingerprinted addresses (caching.static_url): cached for a year
static = create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False,
                                    name="portal:static", cache_control=caching.STATIC_CACHE)

ROUTES = [portal, static]
