"""What is indexed, what is asked, and the ranking policy both backends share. Pure: no I/O.

Documents
    An offer is indexed regionally: one `OfferDoc` per (offer, region served) carrying that region's
    price, delivery days and stock, so an agency searching with its place of delivery sees the price it
    would pay there. A tender is one `TenderDoc`. Documents carry a `digest` of their content so
    `search check` can tell a stale document from a current one.

Ranking policy (local first, relevance within)
    A result's locality tier compares the supplier's domicile (offers) or the tender's place of delivery
    (tenders) with the ubigeo the caller gives: same province > same region > adjoining region >
    elsewhere. Its score is `relevance x TIER_WEIGHTS[tier]`, relevance in [0, 1]. Two equally relevant
    results come out local first; a much better distant match (a title match against a local offer that
    only mentions the word in passing) still outranks a weak local one. The PostgreSQL backend computes
    exactly this score; the Meilisearch backend gets it from a federated multi-search, one query per tier
    with these weights (Meilisearch multiplies each hit's ranking score by its query's weight).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any, Literal, Self

import msgspec

from marketplace.core import geo
from marketplace.core.geo import Tier

__all__ = [
    "CatalogQuery", "Hit", "OfferDoc", "Page", "TenderDoc", "TenderQuery", "Tier", "TIER_LABELS",
    "TIER_WEIGHTS", "Locality", "doc_id", "fold", "score", "tier_of",
]

# ------------------------------------------------------------------------------------------ ranking policy

# Descending weights, one per tier. A distant result needs relevance above weight[local] / weight[distant]
# times the local one's to outrank it: 1 / 0.55 = 1.8x for "elsewhere" against "same province".
TIER_WEIGHTS: dict[Tier, float] = {
    Tier.SAME_PROVINCE: 1.0,
    Tier.SAME_REGION: 0.85,
    Tier.ADJOINING_REGION: 0.7,
    Tier.ELSEWHERE: 0.55,
}
TIER_LABELS: dict[Tier, str] = {
    Tier.SAME_PROVINCE: "same_province",
    Tier.SAME_REGION: "same_region",
    Tier.ADJOINING_REGION: "adjoining_region",
    Tier.ELSEWHERE: "elsewhere",
}


def score(relevance: float, tier: Tier | None) -> float:
    """The policy: relevance (0..1) times the tier's weight; without a place, relevance alone."""
    relevance = min(1.0, max(0.0, relevance))
    return relevance if tier is None else relevance * TIER_WEIGHTS[tier]


class Locality(msgspec.Struct, frozen=True):
    """The place results are ranked against, in the codes both backends filter on."""

    ubigeo: str
    region: str            # 2 digits
    province: str | None   # 4 digits; None when the ubigeo names a whole region
    adjoining: tuple[str, ...]  # 2-digit codes of the adjoining regions, sorted

    @staticmethod
    def of(ubigeo: str) -> Locality:
        """Raises ValueError for an ubigeo that does not exist."""
        region = geo.region_code(ubigeo)
        return Locality(ubigeo=ubigeo, region=region, province=geo.province_code(ubigeo),
                        adjoining=tuple(sorted(geo.regions_adjoining(region))))

    def tier_of(self, other_ubigeo: str | None) -> Tier:
        """The tier of a place (a supplier's domicile, a tender's delivery) relative to this one."""
        if not other_ubigeo or not geo.is_valid_ubigeo(other_ubigeo):
            return Tier.ELSEWHERE
        if other_ubigeo[:2] == self.region:
            if self.province is not None and not other_ubigeo.endswith("0000") and other_ubigeo[:4] == self.province:
                return Tier.SAME_PROVINCE
            return Tier.SAME_REGION
        return Tier.ADJOINING_REGION if other_ubigeo[:2] in self.adjoining else Tier.ELSEWHERE


def tier_of(place_ubigeo: str | None, reference_ubigeo: str) -> Tier:
    return Locality.of(reference_ubigeo).tier_of(place_ubigeo)


# ------------------------------------------------------------------------------------------------ text

_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower case without accents (ñ -> n, as PostgreSQL's unaccent does)."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of a query, in order, without repeats."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(fold(text)):
        seen.setdefault(w, None)
    return list(seen)


def prefixes(code: str) -> list[str]:
    """Every leading prefix of a classification code's digits ("4321" -> 43, 432, 4321), from 2 on."""
    digits = "".join(c for c in code if c.isdigit())
    return [digits[:n] for n in range(2, len(digits) + 1)]


# ---------------------------------------------------------------------------------------------- documents

def doc_id(offer_id: Any, region: str) -> str:
    """An offer document's id: letters, digits, '-' and '_' only (Meilisearch's rule for ids)."""
    return f"{offer_id}_{region}"


class _Doc(msgspec.Struct, kw_only=True, omit_defaults=False):
    id: str
    digest: str = ""

    def with_digest(self) -> Self:
        body = msgspec.json.encode(msgspec.structs.replace(self, digest=""), order="sorted")
        return msgspec.structs.replace(self, digest=hashlib.sha256(body).hexdigest()[:24])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out


class OfferDoc(_Doc, kw_only=True):
    """One offer as sold in one region."""

    offer_id: str
    supplier_id: str
    supplier_name: str
    supplier_ubigeo: str      # domicile, 6 digits
    supplier_province: str    # 4 digits
    supplier_region: str      # 2 digits
    mype: bool = False
    supplier_status: str = "active"  # only active suppliers' offers are indexed; kept for filters and checks
    region: str               # the region served by this document, 2 digits
    name: str
    description: str = ""
    attributes: str = ""      # the product sheet's attributes flattened to text ("marca: HP; ram: 8 GB")
    classification: str = ""  # UNSPSC / CPV code
    classification_name: str = ""
    classification_prefixes: list[str] = []
    family: str = ""          # first 4 digits of the classification
    price_cents: int
    currency: str = "PEN"
    delivery_days: int
    stock: int | None = None
    unit: str = ""
    catalogue_id: str | None = None
    lat: float | None = None  # the supplier's domicile centroid (province's capital), for geo sort
    lng: float | None = None


class TenderDoc(_Doc, kw_only=True):
    """A published tender as the public sees it."""

    tender_id: str
    ocid: str = ""
    title: str
    description: str = ""
    agency_id: str = ""
    agency_name: str = ""
    method: str = ""
    category: str = ""        # goods | services | works | consultancy
    state: str = ""
    ubigeo: str = ""          # place of delivery (the first lot's, else the agency's)
    province: str = ""
    region: str = ""
    classification: str = ""
    classification_prefixes: list[str] = []
    estimated_value_cents: int | None = None
    currency: str = "PEN"
    closing_at: str | None = None   # RFC 3339, the submission deadline
    closing_ts: int | None = None   # the same as Unix seconds, for range filters
    published_at: str | None = None
    lots_text: str = ""


def offer_doc(**fields: Any) -> OfferDoc:
    """Build an offer document, filling the derived fields (province, region, family, prefixes, centroid)."""
    ubigeo = fields["supplier_ubigeo"]
    fields.setdefault("supplier_province", ubigeo[:4])
    fields.setdefault("supplier_region", ubigeo[:2])
    code = fields.get("classification", "") or ""
    fields.setdefault("classification_prefixes", prefixes(code))
    fields.setdefault("family", "".join(c for c in code if c.isdigit())[:4])
    if fields.get("lat") is None and geo.is_valid_ubigeo(ubigeo):
        place = ubigeo[:4] + "00" if not ubigeo.endswith("0000") else ubigeo
        fields["lat"], fields["lng"] = geo.centroid(place)
    fields.setdefault("id", doc_id(fields["offer_id"], fields["region"]))
    return OfferDoc(**fields).with_digest()


def tender_doc(**fields: Any) -> TenderDoc:
    ubigeo = fields.get("ubigeo") or ""
    fields.setdefault("province", ubigeo[:4] if ubigeo and not ubigeo.endswith("0000") else "")
    fields.setdefault("region", ubigeo[:2])
    fields.setdefault("classification_prefixes", prefixes(fields.get("classification", "") or ""))
    fields.setdefault("id", str(fields["tender_id"]))
    return TenderDoc(**fields).with_digest()


# ------------------------------------------------------------------------------------------- queries

Facet = Literal["region", "family", "method", "category", "state"]
OFFER_FACETS: tuple[str, ...] = ("region", "family")
TENDER_FACETS: tuple[str, ...] = ("region", "method", "category", "state")


class CatalogQuery(msgspec.Struct, kw_only=True, frozen=True):
    q: str = ""
    ubigeo: str | None = None          # place of delivery: ranks local first, prices for its region
    classification: str | None = None  # a code prefix ("43", "4321", "43211503")
    price_min: int | None = None       # céntimos
    price_max: int | None = None
    regions: tuple[str, ...] = ()      # regions served (2 digits); the delivery ubigeo implies its own
    facets: tuple[str, ...] = ()
    geo_sort: bool = False             # nearest supplier first (by the domicile's centroid)
    offset: int = 0
    limit: int = 20

    def served_regions(self) -> tuple[str, ...] | None:
        """The regions whose documents may match; None for all. Empty when the filters exclude each other."""
        if self.ubigeo:
            own = self.ubigeo[:2]
            return (own,) if not self.regions or own in self.regions else ()
        return tuple(sorted(set(self.regions))) or None


class TenderQuery(msgspec.Struct, kw_only=True, frozen=True):
    q: str = ""
    ubigeo: str | None = None
    regions: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    classification: str | None = None
    closing_from: int | None = None   # Unix seconds, inclusive
    closing_to: int | None = None
    facets: tuple[str, ...] = ()
    offset: int = 0
    limit: int = 20


class Hit(msgspec.Struct, kw_only=True):
    id: str
    doc: dict[str, Any]
    score: float
    tier: Tier | None = None

    @property
    def tier_label(self) -> str | None:
        return None if self.tier is None else TIER_LABELS[self.tier]


class Page(msgspec.Struct, kw_only=True):
    hits: list[Hit]
    total: int
    total_exact: bool = True       # False: at least `total` (large counts are capped or estimated)
    offset: int
    limit: int
    facets: dict[str, dict[str, int]] = {}
    corrected: str | None = None   # the query as the typo correction understood it, when it changed
