"""The importer's faster flatten gives ocdsmerge's own flattened release, key for key and value for value, on
every release of the fixtures (tests/fixtures/ocds: real publishers, ocdskit's, the fictional example, the
Peru-shaped one) and on generated edge cases; the compiled releases it leads to are checked against ocdskit's
and the fictional example's expected results in test_ocds_import.py."""

from __future__ import annotations

import copy
import random
import warnings
from decimal import Decimal
from typing import Any

import pytest
from ocdsmerge.exceptions import InconsistentTypeError
from ocdsmerge.flatten import IdValue
from ocdsmerge.flatten import flatten as ocds_flatten
from ocdsmerge.flatten import unflatten as ocds_unflatten
from ocdsmerge.merge import CompiledRelease

from marketplace.oversight.imports import domain, merge, read
from tests.conftest import ROOT

FIX = ROOT / "tests" / "fixtures" / "ocds"


def _releases() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in read.read([FIX]):
        if not isinstance(entry, read.Item):
            continue
        if entry.kind == "release":
            out.append(entry.value)
        else:
            out += [r for r in (entry.value.get("releases") or []) if isinstance(r, dict) and "tag" in r]
            if isinstance(entry.value.get("compiledRelease"), dict):
                out.append(entry.value["compiledRelease"])
    return out


def _comparable(flat: dict[tuple[Any, ...], Any]) -> list[tuple[Any, ...]]:
    """Keys and values in order; an object without `id` gets a fresh uuid in both: compared as such."""
    rows = []
    for key, value in flat.items():
        parts = tuple(("id", type(p.original_value).__name__, str(p) if p.original_value is not None else "<new>")
                      if isinstance(p, IdValue) else p for p in key)
        rows.append((parts, value))
    return rows


def test_flatten_equals_ocdsmerges_on_every_fixture_release():
    releases = _releases()
    assert len(releases) > 30
    edge = {"ocid": "ocds-x-1", "id": "1", "date": "2024", "tag": ["tender"], "a": [], "b": {}, "c": [1, {"id": 2}],
            "parties": [{"id": 1, "roles": ["buyer"]}, {"id": "1", "name": "same id as text"}, {"name": "no id"}, {}],
            "awards": [{"id": "a", "suppliers": [{"id": "s"}], "items": [{"id": "i", "unit": {"value": {}}}]}],
            "tender": {"items": [{"id": "x", "additionalClassifications": [{"id": "c"}]}], "tenderers": []}}
    rules_11 = domain.merger().merge_rules
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rules in (rules_11, domain.merge_rules_10()):
            for release in [*releases, edge]:
                assert _comparable(merge.flatten(release, rules)) == _comparable(
                    ocds_flatten(release, rules, {}, {})), release.get("id")


def test_a_compiled_release_through_either_flatten_is_the_same():
    peru = [r for r in _releases() if str(r.get("ocid", "")).startswith("ocds-dgv273")]
    assert len(peru) == 3
    ours = domain.compile_releases(None, peru)


    theirs = CompiledRelease(merge_rules=domain.merger().merge_rules, rule_overrides={})
    theirs.extend(peru)
    assert ours == theirs.asdict()


def test_unflatten_equals_ocdsmerges_on_every_fixture_process():
    by_ocid: dict[str, list[dict[str, Any]]] = {}
    for release in _releases():
        by_ocid.setdefault(str(release.get("ocid")), []).append(release)
    # Ids of mixed types in one array (1 and "1"), nested arrays, a scalar later given as an object.
    by_ocid["edge"] = [
        {"ocid": "edge", "id": "1", "date": "2024-01-01", "awards": [{"id": 1, "items": [{"id": "i", "q": 1}]}]},
        {"ocid": "edge", "id": "2", "date": "2024-01-02", "awards": [{"id": "1", "items": [{"id": "i", "r": 2}]},
                                                                    {"id": 2, "title": None, "value": {"a": 1}}]}]
    rules = domain.merger().merge_rules
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ocid, releases in by_ocid.items():
            compiled = merge.CompiledRelease(merge_rules=rules)
            compiled.extend(releases)
            assert merge.unflatten(compiled.data) == ocds_unflatten(compiled.data), ocid
        broken = merge.flatten({"a": 5}, rules) | merge.flatten({"a": {"b": 1}}, rules)
        for unflatten in (merge.unflatten, ocds_unflatten):
            with pytest.raises(InconsistentTypeError):
                unflatten(broken)


def _ocdsmerge_compiled(base: dict[str, Any] | None, releases: list[dict[str, Any]],
                        rules: dict[tuple[str, ...], str]) -> dict[str, Any] | str:
    try:
        merged = CompiledRelease(data=copy.deepcopy(base), merge_rules=rules, rule_overrides={})
        merged.extend(copy.deepcopy(releases))
        return merged.asdict()
    except InconsistentTypeError:
        return "InconsistentTypeError"


def test_direct_merge_equals_ocdsmerge_on_every_fixture_process_from_every_base():
    """Every process of the fixtures, by 1.1's and 1.0's rules, merged on top of ocdsmerge's compiled release of
    its first k releases, for every k: the direct merge gives ocdsmerge's result, or leaves it to ocdsmerge."""
    by_ocid: dict[str, list[dict[str, Any]]] = {}
    for release in _releases():
        if isinstance(release.get("ocid"), str) and isinstance(release.get("date"), str):
            by_ocid.setdefault(release["ocid"], []).append(release)
    direct = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rules in (domain.merger().merge_rules, domain.merge_rules_10()):
            for ocid, releases in by_ocid.items():
                for k in range(len(releases) + 1):
                    base = _ocdsmerge_compiled(None, releases[:k], rules) if k else None
                    assert not isinstance(base, str)
                    try:
                        ours = merge.compile_direct(copy.deepcopy(base), copy.deepcopy(releases[k:]), rules)
                    except merge.Irregular:
                        continue
                    assert ours == _ocdsmerge_compiled(base, releases[k:], rules), (ocid, k)
                    direct += 1
    assert direct > 80  # nulls and numeric ids of real publishers included


_KEYS = ["title", "status", "value", "amount", "description", "items", "parties", "roles", "awards", "suppliers",
         "tenderers", "additionalIdentifiers", "x"]


def _random_value(rng: random.Random, depth: int) -> Any:
    r = rng.random()
    if depth > 3 or r < 0.35:
        return rng.choice([None, "a", "b", 1, 2, Decimal("1.5"), True, "", 0])
    if r < 0.6:
        return {rng.choice(_KEYS): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if r < 0.9:
        items = []
        for _ in range(rng.randint(0, 3)):
            item = {rng.choice(_KEYS): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 2))}
            if rng.random() < 0.8:
                item["id"] = rng.choice(["1", "2", "3", 1, 2] if rng.random() < 0.2 else ["1", "2", "3"])
            items.append(item)
        return items
    return [rng.choice(["a", 1, None, {"id": "1"}]) for _ in range(rng.randint(0, 2))]


def _random_release(rng: random.Random, n: int) -> dict[str, Any]:
    release: dict[str, Any] = {"ocid": "o", "id": str(n), "date": f"2024-01-0{rng.randint(1, 9)}", "tag": ["tender"]}
    for key in ["tender", "awards", "parties", "buyer", "planning", "contracts"]:
        if rng.random() < 0.5:
            if rng.random() < 0.2:
                release[key] = _random_value(rng, 1)
            elif key in ("tender", "buyer", "planning"):
                release[key] = {k: _random_value(rng, 2) for k in rng.sample(_KEYS, 3)}
            else:
                release[key] = [{**{k: _random_value(rng, 2) for k in rng.sample(_KEYS, 2)}, "id": rng.choice("12")}
                                for _ in range(rng.randint(1, 2))]
    return release


def test_direct_merge_equals_ocdsmerge_on_random_releases():
    """Random releases full of what makes merging hard (nulls, empty objects and arrays, ids as numbers and as
    text, objects without id, arrays of values and objects mixed, a field's type changing between releases),
    merged on top of ocdsmerge's compiled release of the first ones: the direct merge gives ocdsmerge's result
    (an error included: it leaves ocdsmerge to raise it), or leaves the merge to ocdsmerge."""
    rng = random.Random(15)
    rules = domain.merger().merge_rules
    direct = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4000):
            releases = [_random_release(rng, n) for n in range(rng.randint(1, 4))]
            k = rng.randint(0, len(releases))
            base = _ocdsmerge_compiled(None, releases[:k], rules) if k else None
            if isinstance(base, str):
                continue
            expected = _ocdsmerge_compiled(base, releases[k:], rules)
            try:
                ours = merge.compile_direct(copy.deepcopy(base), copy.deepcopy(releases[k:]), rules)
            except merge.Irregular:
                continue
            assert ours == expected, (releases, k)
            direct += 1
    assert direct > 1500
