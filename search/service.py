"""Search use cases: which backend serves, catalogue search and tender search.

The backend is chosen by SEARCH_BACKEND: `meilisearch` (needs MEILI_URL), `postgres`, or `auto` (the
default: Meilisearch when MEILI_URL is set, else PostgreSQL). One backend object per process, made on first
use (no I/O at import time); tests and tools may install another with `use_backend()`.

Searches are public reads (the catalogue and published tenders are public information): any actor,
anonymous included, may search. The documents hold nothing private (no contact data, no sealed bids).
"""

from __future__ import annotations

from typing import Any

from marketplace.core import geo
from marketplace.core.actor import Actor
from marketplace.core.errors import InvalidInput
from marketplace.core.i18n import N_
from search.domain import OFFER_FACETS, TENDER_FACETS, CatalogQuery, Page, TenderQuery
from search.protocol import SearchIndex

BACKENDS = ("auto", "postgres", "meilisearch")
_backend: SearchIndex | None = None


def make_backend(settings: Any) -> SearchIndex:
    choice = (getattr(settings, "search_backend", None) or "auto").lower()
    meili_url = getattr(settings, "meili_url", None)
    if choice == "meilisearch" or (choice == "auto" and meili_url):
        if not meili_url:
            raise RuntimeError("SEARCH_BACKEND=meilisearch needs MEILI_URL")
        # deferred: the Meilisearch SDK loads only when MEILI_URL selects that backend
        from search.backends.meili import MeiliIndex

        return MeiliIndex(meili_url, getattr(settings, "meili_api_key", None))
    # deferred: the Meilisearch SDK loads only when MEILI_URL selects that backend
    from search.backends.postgres import PostgresIndex

    return PostgresIndex()


def backend(settings: Any = None) -> SearchIndex:
    """The process's search backend, made from `settings` on first use (the app and the worker make it at
    start-up, so the outbox consumer, which has no settings, finds it)."""
    global _backend
    if _backend is None:
        if settings is None:
            raise RuntimeError("no search backend yet: the app and the worker make it from Settings at start-up "
                               "(search.service.backend(settings))")
        _backend = make_backend(settings)
    return _backend


def use_backend(index: SearchIndex | None) -> SearchIndex | None:
    """Install a backend (None: choose again on next use). Returns the previous one."""
    global _backend
    previous, _backend = _backend, index
    return previous


# ------------------------------------------------------------------------------------------ validation


def _ubigeo(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not geo.is_valid_ubigeo(value):
        raise InvalidInput(N_("Not a valid ubigeo (six digits naming a region, province or district)"),
                           field=field, rule="ubigeo")
    return value


def _regions(values: list[str] | None, field: str) -> tuple[str, ...]:
    out = []
    for v in values or []:
        for part in v.split(","):
            part = part.strip()
            if not part:
                continue
            if geo.region(part) is None:
                raise InvalidInput(N_("Not a valid region code (two digits, 01 to 25)"), field=field,
                                   rule="region")
            out.append(part[:2])
    return tuple(dict.fromkeys(out))


def _list(values: list[str] | None, allowed: frozenset[str] | None, field: str) -> tuple[str, ...]:
    out = []
    for v in values or []:
        for part in v.split(","):
            part = part.strip()
            if not part:
                continue
            if allowed is not None and part not in allowed:
                raise InvalidInput(N_("Unknown value {value}; allowed: {allowed}"), field=field, rule="enum",
                                   params={"value": part, "allowed": ", ".join(sorted(allowed))})
            out.append(part)
    return tuple(dict.fromkeys(out))


def _classification(value: str | None) -> str | None:
    if not value:
        return None
    digits = value.replace("-", "")
    if not digits.isdigit() or not 2 <= len(digits) <= 9:
        raise InvalidInput(N_("A classification filter is the leading digits of a UNSPSC or CPV code"),
                           field="query.classification", rule="pattern")
    return digits


# -------------------------------------------------------------------------------------------- searches


async def search_catalog(*, actor: Actor, index: SearchIndex, q: str = "", ubigeo: str | None = None,
                         classification: str | None = None, price_min: int | None = None,
                         price_max: int | None = None, regions: list[str] | None = None,
                         facets: list[str] | None = None, geo_sort: bool = False, offset: int = 0,
                         limit: int = 20) -> Page:
    """Catalogue offers for a place of delivery: local suppliers first, relevance within."""
    if price_min is not None and price_max is not None and price_min > price_max:
        raise InvalidInput(N_("The minimum price is above the maximum"), field="query.price_min", rule="range")
    if geo_sort and not ubigeo:
        raise InvalidInput(N_("Sorting by distance needs the place of delivery (ubigeo)"),
                           field="query.ubigeo", rule="required")
    query = CatalogQuery(
        q=q.strip(), ubigeo=_ubigeo(ubigeo, "query.ubigeo"), classification=_classification(classification),
        price_min=price_min, price_max=price_max, regions=_regions(regions, "query.region"),
        facets=_list(facets, frozenset(OFFER_FACETS), "query.facets"), geo_sort=geo_sort,
        offset=offset, limit=limit,
    )
    return await index.search_offers(query)


TENDER_METHODS = frozenset({"public_tender", "public_contest", "simplified_award",
                            "reverse_auction", "price_comparison", "direct_contracting"})
TENDER_CATEGORIES = frozenset({"goods", "services", "works", "consultancy"})
TENDER_STATES = frozenset({"published", "tendering", "opening", "evaluation", "awarded", "contracted",
                           "cancelled", "unsuccessful"})


async def search_tenders(*, actor: Actor, index: SearchIndex, q: str = "", ubigeo: str | None = None,
                         regions: list[str] | None = None, methods: list[str] | None = None,
                         categories: list[str] | None = None, states: list[str] | None = None,
                         classification: str | None = None, closing_from: int | None = None,
                         closing_to: int | None = None, facets: list[str] | None = None, offset: int = 0,
                         limit: int = 20) -> Page:
    """Published tenders (never drafts): full text, filters, and local first when an ubigeo is given."""
    if closing_from is not None and closing_to is not None and closing_from > closing_to:
        raise InvalidInput(N_("The closing date range ends before it starts"), field="query.closing_from",
                           rule="range")
    query = TenderQuery(
        q=q.strip(), ubigeo=_ubigeo(ubigeo, "query.ubigeo"), regions=_regions(regions, "query.region"),
        methods=_list(methods, TENDER_METHODS, "query.method"),
        categories=_list(categories, TENDER_CATEGORIES, "query.category"),
        states=_list(states, TENDER_STATES, "query.state"), classification=_classification(classification),
        closing_from=closing_from, closing_to=closing_to,
        facets=_list(facets, frozenset(TENDER_FACETS), "query.facets"), offset=offset, limit=limit,
    )
    return await index.search_tenders(query)
