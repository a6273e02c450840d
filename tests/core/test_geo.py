"""Peru's geography: the shipped reference data and the locality tiers built on it."""

from __future__ import annotations

import json
import re

import pytest

from marketplace.core import geo
from marketplace.core.geo import Tier


def test_counts_match_inei():
    assert len(geo.regions()) == 25
    assert len(geo.provinces()) == 196
    assert len(geo.districts()) == 1893
    region_pairs = {tuple(sorted((r.code, o))) for r in geo.regions() for o in geo.regions_adjoining(r.code)}
    province_pairs = {tuple(sorted((p.code, o))) for p in geo.provinces() for o in geo.provinces_adjoining(p.code)}
    assert len(region_pairs) == 53
    assert len(province_pairs) == 525


def test_code_formats_and_hierarchy():
    assert all(re.fullmatch(r"\d{2}", r.code) and r.ubigeo == r.code + "0000" for r in geo.regions())
    assert all(re.fullmatch(r"\d{4}", p.code) and p.ubigeo == p.code + "00" for p in geo.provinces())
    codes = {p.code for p in geo.provinces()}
    for d in geo.districts():
        assert re.fullmatch(r"\d{6}", d.code) and not d.code.endswith("00")
        assert d.province_code in codes and d.region_code == d.code[:2]
    # every province has districts, every region provinces
    assert {d.province_code for d in geo.districts()} == codes
    assert {p.region_code for p in geo.provinces()} == {r.code for r in geo.regions()}


@pytest.mark.parametrize(("code", "name", "province", "region"), [
    ("150101", "Lima", "Lima", "Lima"),
    ("080101", "Cusco", "Cusco", "Cusco"),
    ("070101", "Callao", "Callao", "Callao"),
    ("040101", "Arequipa", "Arequipa", "Arequipa"),
    ("150122", "Miraflores", "Lima", "Lima"),
    ("120101", "Huancayo", "Huancayo", "Junín"),
    ("180107", "San Antonio", "Mariscal Nieto", "Moquegua"),
])
def test_well_known_places(code, name, province, region):
    d = geo.district(code)
    assert d is not None and d.display_name == name
    assert geo.province(code).display_name == province
    assert geo.region(code).display_name == region
    assert geo.display_name(code) == f"{name}, {province}, {region}"


def test_display_names_keep_accents_for_regions():
    names = {r.code: r.display_name for r in geo.regions()}
    assert names["02"] == "Áncash" and names["10"] == "Huánuco" and names["22"] == "San Martín"
    assert names["17"] == "Madre de Dios" and names["13"] == "La Libertad"
    assert geo.region("12").name == "JUNIN"  # the source name is kept as is


def test_valid_ubigeo_forms():
    assert geo.is_valid_ubigeo("150101")
    assert geo.is_valid_ubigeo("150100")  # province form
    assert geo.is_valid_ubigeo("150000")  # region form
    for bad in ["15010", "1501011", "abcdef", "990101", "150199", "159900", "260000", "000000", None, 150101,
                "１５０１０１"]:
        assert not geo.is_valid_ubigeo(bad), bad


def test_lookups_of_unknown_codes_are_none():
    assert geo.region("99") is None and geo.region("150199") is None
    assert geo.province("1599") is None and geo.province("150000") is None
    assert geo.district("150100") is None and geo.district("x") is None


def test_adjacency_is_symmetric_and_irreflexive():
    for r in geo.regions():
        for other in geo.regions_adjoining(r.code):
            assert r.code in geo.regions_adjoining(other) and other != r.code
    for p in geo.provinces():
        for other in geo.provinces_adjoining(p.code):
            assert p.code in geo.provinces_adjoining(other) and other != p.code
    assert "15" in geo.regions_adjoining("07") and "07" in geo.regions_adjoining("150101")
    assert geo.provinces_adjoin("0701", "1501")
    assert {"1601", "1606"} <= geo.provinces_adjoining("1608")  # Putumayo, added by hand
    # islands apart, every region borders another
    assert all(geo.regions_adjoining(r.code) for r in geo.regions())


@pytest.mark.parametrize(("supplier", "delivery", "tier"), [
    ("150101", "150122", Tier.SAME_PROVINCE),      # Lima and Miraflores
    ("150122", "150100", Tier.SAME_PROVINCE),      # a district and its province
    ("150101", "150501", Tier.SAME_REGION),        # Lima and Cañete
    ("150000", "150101", Tier.SAME_REGION),        # a region-level domicile is never "same province"
    ("150101", "070101", Tier.ADJOINING_REGION),   # Lima and Callao
    ("080101", "030101", Tier.ADJOINING_REGION),   # Cusco and Abancay
    ("080101", "240101", Tier.ELSEWHERE),          # Cusco and Tumbes
    ("230101", "160101", Tier.ELSEWHERE),          # Tacna and Iquitos
])
def test_locality_tiers(supplier, delivery, tier):
    assert geo.locality_tier(supplier, delivery) is tier
    assert geo.locality_tier(delivery, supplier) is tier  # symmetric


def test_tiers_order_most_local_first():
    assert Tier.SAME_PROVINCE < Tier.SAME_REGION < Tier.ADJOINING_REGION < Tier.ELSEWHERE
    with pytest.raises(ValueError):
        geo.locality_tier("999999", "150101")


def test_lima_and_callao():
    assert geo.is_lima_or_callao("150101") and geo.is_lima_or_callao("070101")
    assert geo.is_lima_or_callao("150501")  # Cañete is in the Lima region
    assert not geo.is_lima_or_callao("150501", metropolitan=True)
    assert geo.is_lima_or_callao("150122", metropolitan=True) and geo.is_lima_or_callao("07", metropolitan=True)
    assert not geo.is_lima_or_callao("080101")


def test_centroids_and_geojson():
    lat, lon = geo.centroid("080101")
    assert -14 < lat < -13 and -72.5 < lon < -71.5
    assert geo.centroid("180107") == (geo.province("1801").latitude, geo.province("1801").longitude)
    shapes = json.loads(geo.geojson_path().read_text(encoding="utf-8"))
    assert {f["properties"]["FIRST_IDDP"] for f in shapes["features"]} == {r.code for r in geo.regions()}
