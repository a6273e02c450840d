"""The engine's parts: statrs' quantiles, Cardinal's settings file, the two passes (add and remove a process,
input order), and `marketplace redflags run|prepare` on the command line."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from marketplace.cli import cli
from marketplace.oversight.redflags import engine, settings, stats
from marketplace.oversight.redflags.model import ProcessResult, Results
from tests.conftest import ROOT

CARDINAL = ROOT / "tests" / "fixtures" / "cardinal"


# ---------------------------------------------------------------------------------------------- stats


def test_quantiles_are_statrs_type_8():
    """statrs' own test values (slice_statistics.rs, test_quantile_short)."""
    data = [-1.0, 5.0, 0.0, -3.0, 10.0, -0.5, 4.0, 0.2, 1.0, 6.0]
    assert stats.quantile(data, 0.0) == -3.0
    assert stats.quantile(data, 1.0) == 10.0
    assert stats.quantile(data, 0.5) == pytest.approx(3 / 5, abs=1e-15)
    assert stats.quantile(data, 0.2) == pytest.approx(-4 / 5, abs=1e-15)
    assert stats.quantile(data, 0.7) == 137 / 30
    assert stats.quantile(data, 0.01) == -3.0
    assert stats.quantile(data, 0.99) == 10.0
    assert stats.quantile(data, 0.52) == pytest.approx(287 / 375, abs=1e-15)
    assert stats.quantile(data, 0.325) == pytest.approx(-37 / 240, abs=1e-15)
    assert stats.quantile([], 0.5) != stats.quantile([], 0.5)  # NaN


def test_fences_round_once_like_a_fused_multiply_add():
    q1, q3 = 0.029, 0.251
    assert (q3 - q1) * 1.5 + q3 == 0.5840000000000001  # rounded twice
    assert stats.upper_fence(q1, q3) == 0.584
    assert stats.round4(16.66666) == 16.6667 and stats.round4(0.00005) == 0.0001 and stats.round4(-0.00005) == -0.0001


# ------------------------------------------------------------------------------------------- settings


def test_settings_use_cardinals_sections_names_and_defaults():
    cfg = settings.parse("""
currency = USD
no_price_comparison_procurement_methods = Random Selection|Lottery
[exclusions]
procurement_method_details = Direct Award
[R003]
threshold = 10 ; comments after a value, as Cardinal's INI allows
procurement_methods = open|selective
[R003.procurement_method_details]
Emergency = 5
[R018]
[R025]
percentile = 90
[R035]
threshold = 0
[R048]
""")
    assert cfg.currency == "USD"
    assert cfg.no_price_comparison_procurement_methods == {"Random Selection", "Lottery"}
    assert cfg.excluded_procurement_method_details == {"Direct Award"}
    r003 = cfg.indicators["R003"]
    assert (r003.threshold, r003.procurement_methods, dict(r003.procurement_method_details)) == (
        10, {"open", "selective"}, {"Emergency": 5})
    assert cfg.indicators["R018"].procurement_methods == {"open", "selective"}
    assert cfg.indicators["R025"].percentile == 90 and cfg.indicators["R025"].threshold is None
    assert cfg.indicators["R035"].threshold == 1  # Cardinal's floor
    assert cfg.indicators["R048"].minimum_contracting_processes == 20
    assert set(cfg.indicators) == {"R003", "R018", "R025", "R035", "R048"}
    assert settings.pipe_set("a|b|") == {"a", "b"} and settings.pipe_set("") == frozenset()


@pytest.mark.parametrize("text,message", [
    ("[R024]\nthreshhold = 0.1\n", r"\[R024\] threshhold: unknown setting"),
    ("[R055]\n", r"\[R055\]: unknown section"),
    ("[R038]\nminimum_submitted_bids = two\n", r"\[R038\] minimum_submitted_bids = 'two': not an integer"),
    ("[R048]\ndigits = -1\n", r"must be 0 or more"),
    ("[R024]\nthreshold = low\n", r"not a number"),
    ("curency = USD\n", r"curency: unknown setting"),
    ("[defaults]\nparty_roles = maybe\n", r"not true or false"),
])
def test_a_mistyped_settings_file_is_refused_naming_the_setting(text, message):
    with pytest.raises(settings.SettingsError, match=message):
        settings.parse(text)


# -------------------------------------------------------------------------------- the two passes


def _release(ocid: str, rng: random.Random) -> dict:
    tenderers = [f"T{rng.randrange(6)}" for _ in range(rng.randrange(1, 5))]
    statuses = ["valid", "valid", "disqualified", "pending", "withdrawn"]
    bids = [{"status": rng.choice(statuses), "tenderers": [{"id": t}],
             "value": {"amount": rng.choice([100, 101, 120, 150, 200]), "currency": "USD"},
             "date": rng.choice(["2000-03-01T00:00:00Z", "2000-04-01T00:00:00Z"])} for t in tenderers]
    winner = rng.choice(tenderers)
    return {
        "ocid": ocid, "buyer": {"id": f"B{rng.randrange(3)}"},
        "tender": {"procurementMethod": "open", "numberOfTenderers": len(set(tenderers)),
                   "tenderPeriod": {"startDate": "2000-01-01T00:00:00Z",
                                    "endDate": rng.choice(["2000-01-05T00:00:00Z", "2000-03-15T00:00:00Z"])},
                   "procuringEntity": {"id": f"P{rng.randrange(2)}"}},
        "bids": {"details": bids},
        "awards": [{"status": rng.choice(["active", "active", "pending"]), "suppliers": [{"id": winner}],
                    "items": [{"classification": {"id": rng.choice(["10", "11", "20", "30"]) + "000000"}}]}],
    }


def _state(p: engine.Population) -> tuple:
    return (p.ratios, p.r025, p.r038_buyer, p.r038_procuring_entity, p.r038_tenderer,
            {k: (v[0], dict(v[1])) for k, v in p.r048.items()})


SETTINGS = settings.Settings.all_indicators(currency="USD")
LOW_MINIMUMS = settings.parse("currency = USD\n" + "\n".join(f"[{c}]" for c in settings.INDICATORS if c != "R048")
                              + "\n[R048]\nminimum_contracting_processes = 1\n")


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), n=st.integers(1, 30), data=st.data())
def test_removing_a_process_undoes_adding_it(seed, n, data):
    """A read model updates one process by removing its old contribution and adding the new one."""
    rng = random.Random(seed)
    eng = engine.Engine(LOW_MINIMUMS)
    results = [eng.evaluate(_release(f"o{i}", rng)) for i in range(n)]
    gone = set(data.draw(st.sets(st.integers(0, n - 1))))
    everything, kept = engine.Population(LOW_MINIMUMS), engine.Population(LOW_MINIMUMS)
    for i, r in enumerate(results):
        everything.add(r)
        if i not in gone:
            kept.add(r)
    for i in gone:
        everything.remove(results[i])
    assert _state(everything) == _state(kept)
    assert everything.finalize(Results()).as_dict() == kept.finalize(Results()).as_dict()


@hsettings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 25))
def test_with_the_main_currency_set_the_order_of_the_lines_does_not_matter(seed, n):
    rng = random.Random(seed)
    lines = [json.dumps(_release(f"o{i}", rng)) for i in range(n)]
    shuffled = lines[:]
    rng.shuffle(shuffled)
    first, _ = engine.run(lines, LOW_MINIMUMS)
    second, _ = engine.run(shuffled, LOW_MINIMUMS)
    assert json.loads(engine.to_json(first)) == json.loads(engine.to_json(second))


@hsettings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 25), threshold=st.floats(0.01, 2.0))
def test_r024_and_r058_flag_exactly_the_ratios_beyond_a_fixed_threshold(seed, n, threshold):
    rng = random.Random(seed)
    cfg = settings.parse(f"[R024]\nthreshold = {threshold!r}\n[R058]\nthreshold = {threshold!r}\n")
    eng = engine.Engine(cfg)
    ratios = {}
    for i in range(n):
        r = eng.evaluate(_release(f"o{i}", rng))
        if r is not None and r.second_lowest is not None:
            ratios[r.ocid] = r.second_lowest[0]
    pop = engine.Population(cfg)
    for ocid, ratio in ratios.items():
        pop.add(ProcessResult(ocid, second_lowest=(ratio, "W", "L")))
    out = pop.finalize(Results()).groups["OCID"]
    assert {o for o, f in out.items() if "R024" in f} == {o for o, x in ratios.items() if x <= threshold}
    assert {o for o, f in out.items() if "R058" in f} == {o for o, x in ratios.items() if x >= threshold}


def test_a_process_result_survives_its_json_shape():
    eng = engine.Engine(LOW_MINIMUMS)
    rng = random.Random(7)
    for i in range(20):
        result = eng.evaluate(_release(f"o{i}", rng))
        assert result is not None
        again = ProcessResult.from_dict(json.loads(json.dumps(result.as_dict())))
        assert again == result


def test_global_rules_leave_out_what_cardinal_leaves_out():
    eng = engine.Engine(SETTINGS)
    assert eng.evaluate([1]) is None
    assert eng.evaluate({"ocid": 5}) is None
    assert eng.evaluate({"ocid": "x", "tender": {"status": "cancelled"}}) is None
    excluded = engine.Engine(settings.parse("[exclusions]\nprocurement_method_details = Lottery\n[R018]\n"))
    assert excluded.evaluate({"ocid": "x", "tender": {"procurementMethodDetails": "Lottery"}}) is None
    assert excluded.evaluate({"ocid": "x", "tender": {"procurementMethodDetails": "Open"}}) is not None


def test_amounts_in_another_currency_than_the_first_observed_are_left_out():
    lines = [json.dumps({"ocid": "usd", "awards": [{"status": "active"}], "bids": {"details": [
                 {"status": "disqualified", "value": {"amount": 1, "currency": "USD"}},
                 {"status": "valid", "value": {"amount": 2, "currency": "USD"}}]}}),
             json.dumps({"ocid": "mixed", "awards": [{"status": "active"}], "bids": {"details": [
                 {"status": "disqualified", "value": {"amount": 1, "currency": "EUR"}},
                 {"status": "valid", "value": {"amount": 2, "currency": "USD"}}]}})]
    results, _ = engine.run(lines, settings.parse("[R036]\n"))
    assert set(results.groups["OCID"]) == {"usd"}
    results, _ = engine.run(lines[::-1], settings.parse("currency = EUR\n[R036]\n"))
    assert set(results.groups["OCID"]) == set()  # no valid bid in EUR


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_run_prints_cardinals_output_for_a_fixture(tmp_path: Path):
    ini = tmp_path / "settings.ini"
    ini.write_text("no_price_comparison_procurement_methods = NPC\n[exclusions]\nprocurement_method_details = EXC\n"
                   "[R058]\n")
    fixture = CARDINAL / "indicators" / "R058.jsonl"
    result = CliRunner().invoke(cli, ["redflags", "run", str(fixture), "--settings", str(ini), "--no-meta"])
    assert result.exit_code == 0, result.output
    assert result.output == (CARDINAL / "indicators" / "R058.expected").read_text().rstrip("\n") + "\n"

    with_meta = CliRunner().invoke(cli, ["redflags", "run", "-", "-s", str(ini)], input=fixture.read_bytes())
    assert with_meta.exit_code == 0
    assert json.loads(with_meta.output)["Meta"] == {"R058": {"q1": 0.0, "q3": 33.3333, "upper_fence": 83.3333}}


def test_cli_run_skips_lines_that_are_not_json_and_says_which(tmp_path: Path):
    data = tmp_path / "in.jsonl"
    data.write_bytes(b'{"ocid":"F","tender":{"numberOfTenderers":1,"procurementMethod":"open"}}\n\n{oops\n[1]\n')
    result = CliRunner().invoke(cli, ["redflags", "run", str(data), "--no-meta", "--count"])
    assert result.exit_code == 0
    assert result.stdout == '{"OCID":{"F":{"R018":1.0}}}\n'
    assert "skipped 1 lines that are not JSON: 3" in result.stderr and "OCID: 1" in result.stderr


def test_cli_refuses_a_bad_settings_file_in_one_line(tmp_path: Path):
    ini = tmp_path / "bad.ini"
    ini.write_text("[R024]\nthreshold = cheap\n")
    result = CliRunner().invoke(cli, ["redflags", "run", str(CARDINAL / "indicators" / "R024.jsonl"), "-s", str(ini)])
    assert result.exit_code == 1
    assert "[R024] threshold = 'cheap': not a number" in result.output
    missing = CliRunner().invoke(cli, ["redflags", "run", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_cli_prepare_writes_the_lines_the_issues_and_the_report(tmp_path: Path):
    prepare = CARDINAL / "prepare"
    out, report = tmp_path / "prepared.jsonl", tmp_path / "report.json"
    result = CliRunner().invoke(cli, ["redflags", "prepare", str(prepare / "defaults.jsonl"), "-s",
                                      str(prepare / "defaults.ini"), "-o", str(out), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == (prepare / "defaults.output").read_text()
    changes = json.loads(report.read_text())["changes"]
    assert {"path": "/bids/details[]/status", "from": "", "to": "valid", "count": 3} in changes
    assert "4 releases written" in result.stderr

    issues = CliRunner().invoke(cli, ["redflags", "prepare", str(CARDINAL / "examples" / "prepare.jsonl")])
    assert issues.stdout == '{"ocid":"ocds-213czf-1","bids":{"details":[{"id":1}]}}\n'
    assert issues.stderr == "1,ocds-213czf-1,/bids/details[]/status,0,,not set\n"
