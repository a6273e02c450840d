"""The importer's faster flatten gives ocdsmerge's own flattened release, key for key and value for value, on
every release of the fixtures (tests/fixtures/ocds: real publishers, ocdskit's, the fictional example, the
Peru-shaped one) and on generated edge cases; the compiled releases it leads to are checked against ocdskit's
and the fictional example's expected results in test_ocds_import.py."""

from __future__ import annotations

import warnings
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
