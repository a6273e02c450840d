"""Peru's geography: regions, provinces and districts by INEI ubigeo, adjacency, and locality tiers.

Reference data every domain uses (tenders, suppliers, search, evaluation). The data files ship in
`data/` (sources and the one correction are in data/README.md) and are read once, lazily, on first use.

Ubigeo forms, all 6-digit strings: a district `RRPPDD`, a province `RRPP00`, a region `RR0000`.
The lookups also take the short forms (`RR`, `RRPP`) where noted.

Locality tiers, best first (an IntEnum, so `min()` and sorting pick the most local):

    SAME_PROVINCE (0) > SAME_REGION (1) > ADJOINING_REGION (2) > ELSEWHERE (3)
"""

from __future__ import annotations

import csv
import functools
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from importlib import resources
from pathlib import Path

__all__ = [
    "District", "Province", "Region", "Tier", "centroid", "display_name", "district", "districts",
    "geojson_path", "is_lima_or_callao", "is_valid_ubigeo", "locality_tier", "province", "province_code",
    "provinces", "provinces_adjoining", "region", "region_code", "regions", "regions_adjoining",
    "provinces_adjoin", "regions_adjoin",
]


class Tier(IntEnum):
    """How local a supplier is to a place of delivery; lower is more local."""

    SAME_PROVINCE = 0
    SAME_REGION = 1
    ADJOINING_REGION = 2
    ELSEWHERE = 3


@dataclass(frozen=True, slots=True)
class Region:
    code: str          # 2 digits, e.g. "15"
    ubigeo: str        # 6 digits, e.g. "150000"
    name: str          # as in the source: upper case, no accents ("JUNIN")
    display_name: str  # "Junín"
    capital: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Province:
    code: str          # 4 digits, e.g. "1501"
    ubigeo: str        # "150100"
    region_code: str
    name: str
    display_name: str
    capital: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class District:
    code: str          # 6 digits, e.g. "150101" (a district's code is its ubigeo)
    province_code: str
    region_code: str
    name: str
    display_name: str
    capital: str
    latitude: float | None   # None for 18 recent districts the source has no coordinates for
    longitude: float | None

    @property
    def ubigeo(self) -> str:
        return self.code


# The 25 regions spelled as Peruvians write them.
_REGION_NAMES = {
    "01": "Amazonas", "02": "Áncash", "03": "Apurímac", "04": "Arequipa", "05": "Ayacucho",
    "06": "Cajamarca", "07": "Callao", "08": "Cusco", "09": "Huancavelica", "10": "Huánuco",
    "11": "Ica", "12": "Junín", "13": "La Libertad", "14": "Lambayeque", "15": "Lima", "16": "Loreto",
    "17": "Madre de Dios", "18": "Moquegua", "19": "Pasco", "20": "Piura", "21": "Puno",
    "22": "San Martín", "23": "Tacna", "24": "Tumbes", "25": "Ucayali",
}
_SMALL_WORDS = {"DE", "DEL", "LA", "LAS", "LOS", "EL", "Y"}


def _fold(text: str) -> str:
    """Upper case without accents or extra spaces, for comparing names."""
    decomposed = unicodedata.normalize("NFD", " ".join(text.split()))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def _title(name: str) -> str:
    words = name.split()
    return " ".join(
        w.lower() if i and w in _SMALL_WORDS else "-".join(p.capitalize() for p in w.split("-"))
        for i, w in enumerate(words)
    )


def _display(name: str, capital: str) -> str:
    """The capital's spelling when it is the same name (it carries the accents), else title case."""
    capital = " ".join(capital.split())
    if capital and capital != "NA" and _fold(capital) == _fold(name):
        return capital
    return _title(name)


def _float(value: str) -> float | None:
    return None if value in ("", "NA") else float(value)


@dataclass(frozen=True, slots=True)
class _Data:
    regions: dict[str, Region]
    provinces: dict[str, Province]
    districts: dict[str, District]
    region_adjacency: dict[str, frozenset[str]]
    province_adjacency: dict[str, frozenset[str]]


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _adjacency(name: str) -> dict[str, frozenset[str]]:
    pairs: dict[str, set[str]] = {}
    for row in _rows(name):
        a, b = row["a"], row["b"]
        pairs.setdefault(a, set()).add(b)
        pairs.setdefault(b, set()).add(a)
    return {k: frozenset(v) for k, v in pairs.items()}


@functools.cache
def _data() -> _Data:
    regions = {}
    for r in _rows("departments.csv"):
        code = r["ubigeo"][:2]
        regions[code] = Region(code=code, ubigeo=r["ubigeo"], name=r["name"], display_name=_REGION_NAMES[code],
                               capital=r["capital"], latitude=float(r["latitude"]),
                               longitude=float(r["longitude"]))
    provinces = {}
    for r in _rows("provinces.csv"):
        code = r["ubigeo"][:4]
        provinces[code] = Province(code=code, ubigeo=r["ubigeo"], region_code=code[:2], name=r["name"],
                                   display_name=_display(r["name"], r["capital"]),
                                   capital=" ".join(r["capital"].split()), latitude=float(r["latitude"]),
                                   longitude=float(r["longitude"]))
    districts = {}
    for r in _rows("districts.csv"):
        code = r["ubigeo"]
        capital = " ".join(r["capital"].split())
        districts[code] = District(code=code, province_code=code[:4], region_code=code[:2], name=r["name"],
                                   display_name=_display(r["name"], capital),
                                   capital="" if capital == "NA" else capital,
                                   latitude=_float(r["latitude"]), longitude=_float(r["longitude"]))
    return _Data(regions, provinces, districts, _adjacency("department_adjacency.csv"),
                 _adjacency("province_adjacency.csv"))


# ---------------------------------------------------------------------------------------------------- lookups

def _digits(code: object) -> str | None:
    return code if isinstance(code, str) and code.isascii() and code.isdigit() else None


def region(code: str) -> Region | None:
    """The region of a code in any form: "15", "150000", "1501", "150101" (its first two digits)."""
    c = _digits(code)
    if c is None or len(c) not in (2, 4, 6):
        return None
    if (len(c) == 4 and c not in _data().provinces) or (len(c) == 6 and not is_valid_ubigeo(c)):
        return None
    return _data().regions.get(c[:2])


def province(code: str) -> Province | None:
    """The province of "1501", "150100" or a district "150101"; None for a region-level code."""
    c = _digits(code)
    if c is None or len(c) not in (4, 6) or (len(c) == 6 and not is_valid_ubigeo(c)):
        return None
    return _data().provinces.get(c[:4])


def district(code: str) -> District | None:
    c = _digits(code)
    return _data().districts.get(c) if c is not None and len(c) == 6 else None


def regions() -> list[Region]:
    return sorted(_data().regions.values(), key=lambda r: r.code)


def provinces(region_code: str | None = None) -> list[Province]:
    items: Iterable[Province] = _data().provinces.values()
    if region_code is not None:
        items = [p for p in items if p.region_code == region_code[:2]]
    return sorted(items, key=lambda p: p.code)


def districts(province_code: str | None = None) -> list[District]:
    items: Iterable[District] = _data().districts.values()
    if province_code is not None:
        items = [d for d in items if d.province_code == province_code[:4]]
    return sorted(items, key=lambda d: d.code)


def is_valid_ubigeo(code: object) -> bool:
    """Six digits naming an existing district, province (`RRPP00`) or region (`RR0000`)."""
    c = _digits(code)
    if c is None or len(c) != 6:
        return False
    data = _data()
    if c.endswith("0000"):
        return c[:2] in data.regions
    if c.endswith("00"):
        return c[:4] in data.provinces
    return c in data.districts


def _require(code: str) -> str:
    if not is_valid_ubigeo(code):
        raise ValueError(f"not a valid ubigeo: {code!r}")
    return code


def region_code(ubigeo: str) -> str:
    """The 2-digit region of a valid ubigeo."""
    return _require(ubigeo)[:2]


def province_code(ubigeo: str) -> str | None:
    """The 4-digit province of a valid ubigeo; None when it names a whole region."""
    c = _require(ubigeo)
    return None if c.endswith("0000") else c[:4]


def display_name(ubigeo: str) -> str:
    """"Miraflores, Lima, Lima" for a district; "Cusco, Cusco" for a province; "Junín" for a region."""
    c = _require(ubigeo)
    data = _data()
    parts = []
    if not c.endswith("00"):
        parts.append(data.districts[c].display_name)
    if not c.endswith("0000"):
        parts.append(data.provinces[c[:4]].display_name)
    parts.append(data.regions[c[:2]].display_name)
    return ", ".join(parts)


def centroid(ubigeo: str) -> tuple[float, float]:
    """(latitude, longitude) of the place's capital: the district's, else its province's or region's."""
    c = _require(ubigeo)
    data = _data()
    d = data.districts.get(c)
    if d is not None and d.latitude is not None and d.longitude is not None:
        return d.latitude, d.longitude
    if not c.endswith("0000"):
        p = data.provinces[c[:4]]
        return p.latitude, p.longitude
    r = data.regions[c[:2]]
    return r.latitude, r.longitude


# ---------------------------------------------------------------------------------------------------- adjacency

def regions_adjoining(region_code: str) -> frozenset[str]:
    """2-digit codes of the regions sharing a border with `region_code` ("15" or any ubigeo in it)."""
    return _data().region_adjacency.get(str(region_code)[:2], frozenset())


def provinces_adjoining(province_code: str) -> frozenset[str]:
    """4-digit codes of the provinces sharing a border with `province_code` ("1501" or any ubigeo in it)."""
    return _data().province_adjacency.get(str(province_code)[:4], frozenset())


def regions_adjoin(a: str, b: str) -> bool:
    return str(b)[:2] in regions_adjoining(a)


def provinces_adjoin(a: str, b: str) -> bool:
    return str(b)[:4] in provinces_adjoining(a)


def locality_tier(supplier_ubigeo: str, delivery_ubigeo: str) -> Tier:
    """How local a supplier domiciled at `supplier_ubigeo` is to a delivery at `delivery_ubigeo`.

    Same province needs both codes to name a province (a region-level code only matches by region).
    Raises ValueError for a code that is not a valid ubigeo.
    """
    s, d = _require(supplier_ubigeo), _require(delivery_ubigeo)
    if s[:2] == d[:2]:
        if not s.endswith("0000") and not d.endswith("0000") and s[:4] == d[:4]:
            return Tier.SAME_PROVINCE
        return Tier.SAME_REGION
    if d[:2] in _data().region_adjacency.get(s[:2], frozenset()):
        return Tier.ADJOINING_REGION
    return Tier.ELSEWHERE


def is_lima_or_callao(code: str, *, metropolitan: bool = False) -> bool:
    """True for a place in the Lima region (15) or Callao (07).

    With `metropolitan=True`, only Lima Metropolitana (province 1501) and Callao count, so the other
    provinces of the Lima region (Huaura, Cañete, Huarochirí...) are "outside Lima and Callao".
    """
    c = _digits(code)
    if c is None or len(c) < 2:
        return False
    if c[:2] == "07":
        return True
    if metropolitan:
        return c[:4] == "1501"
    return c[:2] == "15"


def geojson_path() -> Path:
    """The simplified department polygons (property FIRST_IDDP is the 2-digit code), for maps."""
    return Path(str(resources.files(__package__).joinpath("data", "departments.geojson")))
