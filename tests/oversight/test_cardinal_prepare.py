"""The preparation step: Cardinal's `prepare` fixtures byte for byte, and the publishers' real files whose
non-standard bid statuses it must remap (Armenia's qualified/not-qualified, Prozorro's active)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from marketplace.oversight.redflags import engine, settings
from marketplace.oversight.redflags.prepare import BID_STATUS, PrepareReport, prepare_lines, prepare_release
from tests.conftest import ROOT

PREPARE = ROOT / "tests" / "fixtures" / "cardinal" / "prepare"
PUBLISHERS = ROOT / "marketplace" / "oversight" / "redflags" / "publishers"
REAL = ROOT.parent / "shared" / "realdata" / "sample-data-real-examples"  # shared/ beside the checkout
if not REAL.exists():  # a developer's worktree, /work/wt/<name>, with shared/ two levels up
    REAL = ROOT.parent.parent / "shared" / "realdata" / "sample-data-real-examples"


@pytest.mark.parametrize("name", sorted(p.stem for p in PREPARE.glob("*.ini")))
def test_every_cardinal_prepare_fixture_gives_cardinals_output(name):
    cfg = settings.load(PREPARE / f"{name}.ini")
    report = PrepareReport()
    with (PREPARE / f"{name}.jsonl").open("rb") as handle:
        out = b"".join(prepare_lines(handle, cfg.prepare, report)).decode()
    assert out == (PREPARE / f"{name}.output").read_text()
    assert report.written == report.lines


def test_the_report_says_what_was_changed_and_what_could_not_be():
    cfg = settings.parse("[defaults]\nbid_status = valid\n[codelists.bid_status]\nqualified = valid\n"
                         "[codelists.award_status]\nActive = active\n")
    issues = []
    report = PrepareReport()
    lines = [json.dumps({"ocid": "A", "bids": {"details": [{"status": "qualified"}, {}, {"status": "weird"}]},
                         "awards": [{"status": "Active"}, {}]})]
    (out,) = prepare_lines(lines, cfg.prepare, report, on_issue=issues.append)
    release = json.loads(out)
    assert [b["status"] for b in release["bids"]["details"]] == ["valid", "valid", "weird"]
    assert release["awards"] == [{"status": "active"}, {}]
    assert report.changes == Counter({("/bids/details[]/status", "qualified", "valid"): 1,
                                      ("/bids/details[]/status", "", "valid"): 1,
                                      ("/awards[]/status", "Active", "active"): 1})
    assert [i.row() for i in issues] == [
        ["1", "A", "/bids/details[]/status", "2", "weird", "invalid"],
        ["1", "A", "/awards[]/status", "1", "", "not set"]]
    assert report.as_dict()["issues"] == [{"path": "/awards[]/status", "description": "not set", "count": 1},
                                          {"path": "/bids/details[]/status", "description": "invalid", "count": 1}]


def test_a_removed_key_leaves_the_others_in_cardinals_order():
    """serde_json (preserve_order) removes by swapping the last key into the hole; Cardinal's output shows it."""
    cfg = settings.parse("[redactions]\norganization_id = X\n")
    release = {"buyer": {"id": "X", "name": "B", "address": {}}}
    prepare_release(release, cfg.prepare)
    assert list(release["buyer"]) == ["address", "name"]


# ------------------------------------------------------------------------------------------- real data


def _armenia() -> Iterator[str]:
    package = json.loads((REAL / "armenia" / "sample" / "releases" / "6.json").read_text())
    for release in package["releases"]:
        yield json.dumps(release)


def _prozorro() -> Iterator[str]:
    for path in sorted((REAL / "ukraine" / "sample" / "records").glob("*.json")):
        data = json.loads(path.read_text())
        for record in data.get("records", [data]):
            if record.get("compiledRelease"):
                yield json.dumps(record["compiledRelease"])


def _statuses(lines: list[bytes]) -> Counter[str]:
    return Counter(b.get("status") for line in lines for b in (json.loads(line).get("bids") or {}).get("details", []))


needs_real = pytest.mark.skipif(not REAL.exists(), reason="the shared real-data folder is not beside the checkout")


@needs_real
def test_armenia_qualified_and_not_qualified_become_valid_and_disqualified():
    raw = Counter(b.get("status") for line in _armenia()
                  for b in (json.loads(line).get("bids") or {}).get("details", []))
    assert raw == Counter({"qualified": 33, "not-qualified": 3})
    report = PrepareReport()
    prepared = list(prepare_lines(_armenia(), settings.load(PUBLISHERS / "armenia.ini").prepare, report))
    assert _statuses(prepared) == Counter({"valid": 33, "disqualified": 3})
    assert report.as_dict()["changes"] == [
        {"path": "/bids/details[]/status", "from": "not-qualified", "to": "disqualified", "count": 3},
        {"path": "/bids/details[]/status", "from": "qualified", "to": "valid", "count": 33}]
    assert report.written == 100 and not report.issues


@needs_real
def test_prozorro_rejected_bidders_are_disqualified_and_then_r036_sees_them():
    """Prozorro keeps every received bid "active" and names tenderers by identifier; the bidder it rejected
    has an unsuccessful award. Prepared, the rejected (and cheapest) bids are disqualified, and R036
    (lowest bid disqualified) flags the three processes where that happened; before, it cannot see them."""
    everything = settings.Settings.all_indicators()
    before, _ = engine.run(_prozorro(), everything)
    assert not any("R036" in flags for flags in before.groups["OCID"].values())

    report = PrepareReport()
    prepared = list(prepare_lines(_prozorro(), settings.load(PUBLISHERS / "prozorro.ini").prepare, report))

    assert set(_statuses(prepared)) <= BID_STATUS
    assert _statuses(prepared) == Counter({"valid": 9, "disqualified": 3})
    assert report.changes[("/bids/details[]/status", "valid", "disqualified")] == 3
    assert report.changes[("/bids/details[]/tenderers[]/id", "", "identifier")] == 12
    after, _ = engine.run(prepared, everything)
    r036 = {ocid for ocid, flags in after.groups["OCID"].items() if "R036" in flags}
    assert r036 == {"ocds-be6bcu-UA-2016-06-08-000504-c", "ocds-be6bcu-UA-2017-04-10-002020-b",
                    "ocds-be6bcu-UA-2017-04-12-001619-b"}
    for line in prepared:  # each flagged process: its lowest bid is the one of its unsuccessful award
        release = json.loads(line)
        if release["ocid"] in r036:
            bids = release["bids"]["details"]
            lowest = min(bids, key=lambda b: b["value"]["amount"])
            loser = {s["id"] for a in release["awards"] if a["status"] == "unsuccessful" for s in a["suppliers"]}
            assert lowest["status"] == "disqualified" and lowest["tenderers"][0]["id"] in loser


def test_an_award_implied_disqualification_spares_a_bidder_that_also_won():
    cfg = settings.parse("[corrections]\nbid_status_by_award_status = true\n")
    release = {"ocid": "x", "bids": {"details": [
        {"status": "valid", "tenderers": [{"id": "A"}]}, {"status": "valid", "tenderers": [{"id": "B"}]},
        {"status": "pending", "tenderers": [{"id": "C"}]},
        {"status": "valid", "tenderers": [{"id": "A"}, {"id": "D"}]}]},
        "awards": [{"status": "unsuccessful", "suppliers": [{"id": "A"}]},
                   {"status": "unsuccessful", "suppliers": [{"id": "B"}, {"id": "C"}]},
                   {"status": "active", "suppliers": [{"id": "B"}]}]}
    prepare_release(release, cfg.prepare)
    assert [b["status"] for b in release["bids"]["details"]] == ["disqualified", "valid", "disqualified", "valid"]


def test_prepare_writes_numbers_and_text_as_cardinal_does():
    (out,) = prepare_lines(['{"ocid":"ñ","tender":{"value":{"amount":1.0}},"x":1e16,"y":0.00001234}'],
                           settings.Settings().prepare, PrepareReport())
    assert out == '{"ocid":"ñ","tender":{"value":{"amount":1.0}},"x":1e16,"y":0.00001234}\n'.encode()


def test_lines_that_are_not_json_objects_are_skipped_and_counted(tmp_path: Path):
    report = PrepareReport()
    out = list(prepare_lines([b"{}", b"", b"   ", b"[1]", b"{bad", b'{"ocid":"a"}', b"\xff"],
                             settings.Settings().prepare, report))
    assert out == [b"{}\n", b'{"ocid":"a"}\n']
    assert (report.lines, report.written, report.invalid) == (7, 2, 3)
