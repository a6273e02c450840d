"""The Meilisearch backend (production), on meilisearch-python-sdk's AsyncClient.

* The client always has a timeout (the SDK has none by default), and every write is a Meilisearch task
  awaited with a timeout; a failed task raises (`raise_for_status`), so the sync retries the events.
* `configure()` applies each index's settings (searchable, filterable and sortable attributes, ranking
  rules, typo tolerance suited to Spanish) and waits for them before any document is written: settings
  changed after documents reindex everything.
* Writes are batched (`BATCH` documents per task).
* Local first: a federated multi-search with one query per locality tier (same province, same region,
  adjoining regions, elsewhere), each with the policy's weight from search.domain.TIER_WEIGHTS;
  Meilisearch multiplies each hit's ranking score by its query's weight and merges, so equally relevant
  offers come out local first while a much better distant match still rises above a weak local one.
  Counts and facets come from one plain search over the same filters.
* Geo sort where asked: `_geo` holds the supplier's domicile centroid (its province's capital).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import httpx
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import (
    MeilisearchApiError,
    MeilisearchCommunicationError,
    MeilisearchError,
    MeilisearchTaskFailedError,
    MeilisearchTimeoutError,
)
from meilisearch_python_sdk.models.search import (
    Federation,
    FederationOptions,
    SearchParams,
    SearchResultsFederated,
)
from meilisearch_python_sdk.models.settings import MeilisearchSettings, MinWordSizeForTypos, TypoTolerance

from marketplace.core import geo
from search import domain
from search.domain import CatalogQuery, Hit, Locality, OfferDoc, Page, TenderDoc, TenderQuery, Tier
from search.protocol import KINDS, Kind, SearchUnavailable

_T = TypeVar("_T")

# A search filter as the SDK takes it: every condition must hold (an inner list would be an OR of them).
Conditions = list[str | list[str]]

BATCH = 1000
REQUEST_TIMEOUT_S = 10
TASK_TIMEOUT_MS = 60_000

# Spanish product words are long: one typo from 4 letters, two from 8 ("computadra" -> "computadora").
_TYPOS = TypoTolerance(enabled=True, min_word_size_for_typos=MinWordSizeForTypos(one_typo=4, two_typos=8),
                       disable_on_attributes=["classification"])
_RULES = ["words", "typo", "proximity", "attribute", "sort", "exactness"]

SETTINGS: dict[Kind, MeilisearchSettings] = {
    "offers": MeilisearchSettings(
        searchable_attributes=["name", "classification_name", "attributes", "description", "supplier_name",
                               "classification"],
        filterable_attributes=["region", "supplier_region", "supplier_province", "supplier_id", "offer_id",
                               "classification_prefixes", "family", "price_cents", "delivery_days", "mype",
                               "_geo"],
        sortable_attributes=["price_cents", "delivery_days", "_geo"],
        ranking_rules=_RULES,
        typo_tolerance=_TYPOS,
    ),
    "tenders": MeilisearchSettings(
        searchable_attributes=["title", "lots_text", "description", "agency_name", "classification", "ocid"],
        filterable_attributes=["region", "province", "method", "category", "state", "classification_prefixes",
                               "closing_ts", "agency_id"],
        sortable_attributes=["closing_ts", "estimated_value_cents"],
        ranking_rules=_RULES,
        typo_tolerance=_TYPOS,
    ),
}


def _q(value: str) -> str:
    """A string literal for a Meilisearch filter."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _in(field: str, values: Sequence[str]) -> str:
    return f"{field} IN [{', '.join(_q(v) for v in values)}]"


class MeiliIndex:
    name = "meilisearch"

    def __init__(self, url: str, api_key: str | None = None, *, prefix: str = "",
                 timeout_s: int = REQUEST_TIMEOUT_S, task_timeout_ms: int = TASK_TIMEOUT_MS) -> None:
        self.client = AsyncClient(url, api_key, timeout=timeout_s)
        self.prefix = prefix
        self.task_timeout_ms = task_timeout_ms

    def uid(self, kind: Kind) -> str:
        return f"{self.prefix}{kind}"

    async def close(self) -> None:
        await self.client.aclose()

    async def _wait(self, task_uid: int) -> None:
        try:
            await self.client.wait_for_task(task_uid, timeout_in_ms=self.task_timeout_ms, raise_for_status=True)
        except MeilisearchTaskFailedError as exc:
            raise SearchUnavailable(f"Meilisearch task {task_uid} failed: {exc}") from exc
        except MeilisearchTimeoutError as exc:
            raise SearchUnavailable(f"Meilisearch task {task_uid} not done in {self.task_timeout_ms} ms") from exc

    async def _call(self, coro: Awaitable[_T]) -> _T:
        try:
            return await coro
        except (MeilisearchCommunicationError, MeilisearchTimeoutError, OSError) as exc:
            raise SearchUnavailable(f"Meilisearch unreachable: {exc}") from exc
        except MeilisearchApiError as exc:
            raise SearchUnavailable(f"Meilisearch refused the request: {exc}") from exc
        except (MeilisearchError, httpx.HTTPError) as exc:  # read timeouts and other transport errors
            raise SearchUnavailable(f"Meilisearch failed: {exc}") from exc

    # ------------------------------------------------------------------------------------------- set-up

    async def configure(self) -> None:
        for kind in KINDS:
            index = await self._call(self.client.get_or_create_index(self.uid(kind), primary_key="id"))
            task = await self._call(index.update_settings(SETTINGS[kind]))
            await self._wait(task.task_uid)

    async def drop(self) -> None:
        for kind in KINDS:
            with contextlib.suppress(MeilisearchError):
                await self.client.delete_index_if_exists(self.uid(kind))

    # --------------------------------------------------------------------------------------------- writes

    @staticmethod
    def _document(kind: Kind, doc: OfferDoc | TenderDoc) -> dict[str, Any]:
        body = doc.to_dict()
        if kind == "offers":
            lat, lng = body.pop("lat", None), body.pop("lng", None)
            # One malformed _geo fails the whole batch: send it only when both are real numbers.
            if isinstance(lat, (int, float)) and isinstance(lng, (int, float)) and -90 <= lat <= 90 \
                    and -180 <= lng <= 180:
                body["_geo"] = {"lat": float(lat), "lng": float(lng)}
        return body

    async def upsert(self, kind: Kind, docs: Sequence[OfferDoc | TenderDoc]) -> None:
        index = self.client.index(self.uid(kind))
        for start in range(0, len(docs), BATCH):
            batch = [self._document(kind, d) for d in docs[start:start + BATCH]]
            task = await self._call(index.add_documents(batch, primary_key="id"))
            await self._wait(task.task_uid)

    async def delete(self, kind: Kind, ids: Sequence[str]) -> None:
        index = self.client.index(self.uid(kind))
        ids = list(ids)
        for start in range(0, len(ids), BATCH):
            task = await self._call(index.delete_documents(ids[start:start + BATCH]))
            await self._wait(task.task_uid)

    async def clear(self, kind: Kind) -> None:
        task = await self._call(self.client.index(self.uid(kind)).delete_all_documents())
        await self._wait(task.task_uid)

    async def digests(self, kind: Kind) -> dict[str, str]:
        index = self.client.index(self.uid(kind))
        out: dict[str, str] = {}
        offset = 0
        while True:
            page = await self._call(index.get_documents(offset=offset, limit=BATCH, fields=["id", "digest"]))
            for d in page.results:
                out[str(d["id"])] = d.get("digest", "")
            offset += len(page.results)
            if not page.results or offset >= page.total:
                return out

    # -------------------------------------------------------------------------------------------- search

    @staticmethod
    def _offer_filter(query: CatalogQuery) -> Conditions | None:
        parts: Conditions = []
        served = query.served_regions()
        if served == ():
            return None
        if served:
            parts.append(_in("region", served))
        if query.classification:
            digits = "".join(c for c in query.classification if c.isdigit())
            parts.append(f"classification_prefixes = {_q(digits)}")
        if query.price_min is not None:
            parts.append(f"price_cents >= {int(query.price_min)}")
        if query.price_max is not None:
            parts.append(f"price_cents <= {int(query.price_max)}")
        return parts

    @staticmethod
    def _tender_filter(query: TenderQuery) -> Conditions:
        parts: Conditions = []
        for field, values in (("region", query.regions), ("method", query.methods),
                              ("category", query.categories), ("state", query.states)):
            if values:
                parts.append(_in(field, values))
        if query.classification:
            digits = "".join(c for c in query.classification if c.isdigit())
            parts.append(f"classification_prefixes = {_q(digits)}")
        if query.closing_from is not None:
            parts.append(f"closing_ts >= {int(query.closing_from)}")
        if query.closing_to is not None:
            parts.append(f"closing_ts <= {int(query.closing_to)}")
        return parts

    @staticmethod
    def _tier_filters(loc: Locality, province_field: str, region_field: str) -> dict[Tier, str]:
        near = [loc.region, *loc.adjoining]
        same_province = f"{province_field} = {_q(loc.province)}" if loc.province else None
        return {
            Tier.SAME_PROVINCE: same_province or f"{region_field} = {_q('--')}",  # matches nothing
            Tier.SAME_REGION: f"{region_field} = {_q(loc.region)}"
                              + (f" AND {province_field} != {_q(loc.province)}" if loc.province else ""),
            Tier.ADJOINING_REGION: _in(region_field, loc.adjoining) if loc.adjoining
                                   else f"{region_field} = {_q('--')}",
            Tier.ELSEWHERE: f"{region_field} NOT IN [{', '.join(_q(v) for v in near)}]",
        }

    async def _counts(self, kind: Kind, q: str, base: Conditions, facets: Sequence[str]
                      ) -> tuple[int, dict[str, dict[str, int]]]:
        index = self.client.index(self.uid(kind))
        result = await self._call(index.search(q or None, filter=base or None, facets=list(facets) or None,
                                               limit=0))
        dist = result.facet_distribution or {}
        out = {f: dict(sorted(((k, int(v)) for k, v in dist.get(f, {}).items()), key=lambda kv: (-kv[1], kv[0])))
               for f in facets}
        return int(result.estimated_total_hits or 0), out

    async def _federated(self, kind: Kind, q: str, base: Conditions, loc: Locality, province_field: str,
                         region_field: str, offset: int, limit: int, sort: list[str] | None) -> list[Hit]:
        queries = [
            SearchParams(index_uid=self.uid(kind), q=q or None, filter=[*base, tier_filter],
                         federation_options=FederationOptions(weight=domain.TIER_WEIGHTS[tier]),
                         sort=sort, show_ranking_score=True)
            for tier, tier_filter in self._tier_filters(loc, province_field, region_field).items()
        ]
        result = await self._call(self.client.multi_search(queries, federation=Federation(limit=limit,
                                                                                          offset=offset)))
        if not isinstance(result, SearchResultsFederated):  # the SDK answers a list only without federation
            raise SearchUnavailable("Meilisearch answered a federated search with separate results")
        hits = []
        for h in result.hits:
            meta = h.pop("_federation", {}) or {}
            tier = Tier(int(meta.get("queriesPosition", 3)))
            hits.append(Hit(id=str(h["id"]), doc=_strip(h), tier=tier,
                            score=float(meta.get("weightedRankingScore", 0.0))))
        return hits

    async def _plain(self, kind: Kind, q: str, base: Conditions, offset: int, limit: int,
                     sort: list[str] | None, loc: Locality | None, place_field: str) -> list[Hit]:
        index = self.client.index(self.uid(kind))
        result = await self._call(index.search(q or None, filter=base or None, offset=offset, limit=limit,
                                               sort=sort, show_ranking_score=True))
        hits = []
        for h in result.hits:
            relevance = float(h.get("_rankingScore", 1.0))
            tier = loc.tier_of(h.get(place_field)) if loc else None
            hits.append(Hit(id=str(h["id"]), doc=_strip(h), tier=tier, score=domain.score(relevance, tier)))
        return hits

    async def search_offers(self, query: CatalogQuery) -> Page:
        base = self._offer_filter(query)
        if base is None:
            return Page(hits=[], total=0, offset=query.offset, limit=query.limit,
                        facets={f: {} for f in query.facets})
        total, facets = await self._counts("offers", query.q, base, query.facets)
        loc = Locality.of(query.ubigeo) if query.ubigeo else None
        if loc is not None and query.geo_sort:
            lat, lng = geo.centroid(loc.ubigeo)
            hits = await self._plain("offers", query.q, base, query.offset, query.limit,
                                     [f"_geoPoint({lat}, {lng}):asc"], loc, "supplier_ubigeo")
        elif loc is not None:
            hits = await self._federated("offers", query.q, base, loc, "supplier_province", "supplier_region",
                                         query.offset, query.limit, None)
        else:
            hits = await self._plain("offers", query.q, base, query.offset, query.limit, None, None, "")
        for h in hits:
            lat_lng = h.doc.pop("_geo", None)
            if lat_lng:
                h.doc["lat"], h.doc["lng"] = lat_lng.get("lat"), lat_lng.get("lng")
        return Page(hits=hits, total=total, total_exact=total < 1000, offset=query.offset, limit=query.limit,
                    facets=facets)

    async def search_tenders(self, query: TenderQuery) -> Page:
        base = self._tender_filter(query)
        total, facets = await self._counts("tenders", query.q, base, query.facets)
        loc = Locality.of(query.ubigeo) if query.ubigeo else None
        sort = None if query.q else ["closing_ts:asc"]
        if loc is not None:
            hits = await self._federated("tenders", query.q, base, loc, "province", "region",
                                         query.offset, query.limit, sort)
        else:
            hits = await self._plain("tenders", query.q, base, query.offset, query.limit, sort, None, "")
        return Page(hits=hits, total=total, total_exact=total < 1000, offset=query.offset, limit=query.limit,
                    facets=facets)


def _strip(hit: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hit.items() if not k.startswith("_") or k == "_geo"}
