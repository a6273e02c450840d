"""The red-flag engine agrees with Open Contracting Partnership's Cardinal on every one of Cardinal's own
fixtures and documentation examples (tests/fixtures/cardinal, see its README), to the number's last digit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from marketplace.oversight.redflags import engine, settings
from tests.conftest import ROOT

CARDINAL = ROOT / "tests" / "fixtures" / "cardinal"
FIXTURES = [json.loads(line) for line in (CARDINAL / "INDICATOR_FIXTURES.jsonl").read_text().splitlines()]
EXAMPLES = [json.loads(line) for line in (CARDINAL / "EXAMPLES_EXPECTED.jsonl").read_text().splitlines()]


def literal(text: str) -> Any:
    """JSON with every number kept as the text it was written as, so 1.0 and 1 differ, as they do for us."""
    return json.loads(text, parse_float=lambda s: ("float", s), parse_int=lambda s: ("int", s))


def ini(indicator: str, indicator_settings: dict[str, Any], global_settings: dict[str, Any]) -> str:
    """The settings file Cardinal's build.rs gives a fixture: the global settings, then the indicator's section
    (a nested table, like R003's procurement_method_details, is a [R003.procurement_method_details] section)."""
    lines = [f"{k} = {v}" for k, v in global_settings.items() if not isinstance(v, dict)]
    sections: dict[str, dict[str, Any]] = {k: v for k, v in global_settings.items() if isinstance(v, dict)}
    sections[indicator] = {k: v for k, v in indicator_settings.items() if not isinstance(v, dict)}
    sections.update({f"{indicator}.{k}": v for k, v in indicator_settings.items() if isinstance(v, dict)})
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {v}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def run_file(path: Path, cfg: settings.Settings, *, meta: bool = False) -> str:
    with path.open("rb") as handle:
        results, _ = engine.run(handle, cfg)
    return engine.to_json(results, meta=meta)


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["fixture"] for f in FIXTURES])
def test_every_cardinal_fixture_gives_cardinals_output(fixture):
    path = CARDINAL / "indicators" / f"{fixture['fixture']}.jsonl"
    assert len(path.read_text().splitlines()) == fixture["lines"]
    cfg = settings.parse(ini(fixture["indicator"], fixture["indicator_settings"], fixture["global_settings"]))
    assert set(cfg.indicators) == {fixture["indicator"]}

    ours = run_file(path, cfg)

    expected = (CARDINAL / "indicators" / f"{fixture['fixture']}.expected").read_text()
    assert literal(ours) == literal(expected)
    assert json.loads(ours) == fixture["expected"]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["indicator"] for e in EXAMPLES])
def test_every_documentation_example_gives_the_documented_output(example):
    text = (CARDINAL / example["settings"]).read_text()
    if example["indicator"] == "R044":
        # R044 lives on Cardinal's r044 branch, whose docs/examples/settings.ini adds this section.
        text += "[R044]\n"
    cfg = settings.parse(text)
    assert example["flags"] == ["--no-meta"]

    ours = run_file(CARDINAL / example["input"], cfg)

    assert literal(ours) == literal(json.dumps(example["expected"]))


def test_examples_run_with_every_indicator_on_and_each_shows_only_its_own_flag():
    """docs/examples/settings.ini enables all of them: no indicator fires on another's demonstration."""
    cfg = settings.parse((CARDINAL / "examples" / "settings.ini").read_text() + "[R044]\n")
    assert set(cfg.indicators) == set(settings.INDICATORS)
    shared = [e for e in EXAMPLES if e["settings"] == "examples/settings.ini"]
    assert len(shared) >= 7
    for example in shared:
        codes = {code for group in json.loads(run_file(CARDINAL / example["input"], cfg)).values()
                 for flags in group.values() for code in flags}
        assert codes == {example["indicator"]}, example["input"]


def test_meta_holds_the_quartiles_and_fences_rounded_to_four_decimals():
    """Cardinal's documentation: R024's fixture gives q1 66.6667, q3 100.0, lower fence 16.6667."""
    cfg = settings.parse("no_price_comparison_procurement_methods = NPC\n"
                         "[exclusions]\nprocurement_method_details = EXC\n[R024]\n")
    out = json.loads(run_file(CARDINAL / "indicators" / "R024.jsonl", cfg, meta=True))
    assert out["Meta"] == {"R024": {"q1": 66.6667, "q3": 100.0, "lower_fence": 16.6667}}


def test_a_fixed_threshold_replaces_the_fence():
    lines = (CARDINAL / "indicators" / "R024.jsonl").read_text().splitlines()
    fixed = settings.parse("[R024]\nthreshold = 150\n")  # every ratio (0 and 100) is at or below 150
    results, _ = engine.run(lines, fixed)
    flagged = results.groups["OCID"]
    assert {"F", "repeat tenderers", "1", "6", "accept"} <= set(flagged)
    assert results.meta_values["R024"] == {"lower_fence": 150.0}


def test_numbers_are_written_as_cardinal_writes_them():
    assert [engine.format_number(x) for x in (1.0, 0.2, 1 / 6, 100.0, 1e16, 1.5e-7, 0.00001234, -2.5e-5, 1e15)] == [
        "1.0", "0.2", "0.16666666666666666", "100.0", "1e16", "1.5e-7", "0.00001234", "-0.000025",
        "1000000000000000.0"]
    assert engine.format_number(float("nan")) == "null"
