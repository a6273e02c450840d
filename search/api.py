"""Search endpoints: the catalogue (GET /api/v1/catalog/search) and the tender list (GET /api/v1/tenders).

Both are public reads. With `ubigeo` (the place of delivery, or the supplier's place for tenders) results
come local first, relevance within, and each says its locality tier.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from litestar import get
from litestar.params import FromQuery, QueryParameter

from marketplace.core.deps import ActorDep, SettingsDep
from marketplace.core.errors import InvalidInput, Unavailable
from marketplace.core.i18n import N_
from search import service
from search.protocol import SearchUnavailable
from search.schemas import CatalogSearchRead, TenderSearchRead, catalog_read, tenders_read

Offset = Annotated[int, QueryParameter(ge=0, le=10_000, description="results to skip")]
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="results per page")]
Cents = Annotated[int | None, QueryParameter(ge=0, le=10**13, description="céntimos")]
Text = Annotated[str, QueryParameter(max_length=200, description="words to search; typos are tolerated")]


@get("/api/v1/catalog/search", summary="Search catalogue offers, local suppliers first", tags=["search"])
async def catalog_search(
    actor: ActorDep, settings: SettingsDep, q: Text = "",
    ubigeo: Annotated[str | None, QueryParameter(description="place of delivery (6-digit INEI ubigeo)")] = None,
    classification: Annotated[str | None, QueryParameter(description="UNSPSC/CPV code prefix")] = None,
    price_min: Cents = None, price_max: Cents = None,
    region: Annotated[list[str] | None, QueryParameter(description="regions served (2 digits), repeatable")] = None,
    facets: Annotated[list[str] | None, QueryParameter(description="region, family")] = None,
    sort: FromQuery[Literal["relevance", "distance"]] = "relevance",
    offset: Offset = 0, limit: Limit = 20,
) -> CatalogSearchRead:
    try:
        page = await service.search_catalog(
            actor=actor, index=service.backend(settings), q=q, ubigeo=ubigeo, classification=classification,
            price_min=price_min, price_max=price_max, regions=region, facets=facets,
            geo_sort=sort == "distance", offset=offset, limit=limit)
    except SearchUnavailable as exc:
        raise Unavailable(headers={"Retry-After": "5"}) from exc
    return catalog_read(page)


def _ts(value: datetime | None, field: str) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(N_("Give the date with its time zone (RFC 3339)"), field=field, rule="timezone")
    return int(value.timestamp())


@get("/api/v1/tenders", summary="Search and list published tenders", tags=["search", "tenders"])
async def tender_search(
    actor: ActorDep, settings: SettingsDep, q: Text = "",
    ubigeo: Annotated[str | None,
                      QueryParameter(description="your place (6-digit ubigeo): local tenders first")] = None,
    region: Annotated[list[str] | None, QueryParameter(description="region of delivery (2 digits), repeatable")] = None,
    method: Annotated[list[str] | None, QueryParameter(description="procurement method, repeatable")] = None,
    category: Annotated[list[str] | None, QueryParameter(description="goods, services, works, consultancy")] = None,
    tender_state: Annotated[list[str] | None,
                            QueryParameter(name="state", description="tender state, repeatable")] = None,
    classification: Annotated[str | None, QueryParameter(description="UNSPSC/CPV code prefix")] = None,
    closing_from: Annotated[datetime | None, QueryParameter(description="deadline on or after (RFC 3339)")] = None,
    closing_to: Annotated[datetime | None, QueryParameter(description="deadline on or before (RFC 3339)")] = None,
    facets: Annotated[list[str] | None, QueryParameter(description="region, method, category, state")] = None,
    offset: Offset = 0, limit: Limit = 20,
) -> TenderSearchRead:
    try:
        page = await service.search_tenders(
            actor=actor, index=service.backend(settings), q=q, ubigeo=ubigeo, regions=region, methods=method,
            categories=category, states=tender_state, classification=classification,
            closing_from=_ts(closing_from, "query.closing_from"), closing_to=_ts(closing_to, "query.closing_to"),
            facets=facets, offset=offset, limit=limit)
    except SearchUnavailable as exc:
        raise Unavailable(headers={"Retry-After": "5"}) from exc
    return tenders_read(page)


ROUTES = [catalog_search, tender_search]
