"""Oversight thresholds (settings from the environment, refused when malformed) and `marketplace export`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from marketplace.core import db
from marketplace.oversight import policy
from marketplace.settings import SettingsError, load_settings
from tests.conftest import DATABASE_URL, ROOT
from tests.oversight.test_award_history import _insert


def test_thresholds_default_and_come_from_the_environment():
    default = policy.of(load_settings({}, persist_dev_keys=False))
    assert default.amendment_max_pct == Decimal(20) and default.stage_limit_days["evaluation"] == 20
    s = load_settings({"REDFLAG_AMENDMENT_MAX_PCT": "12.5", "STAGE_LIMIT_DAYS": "evaluation=5"},
                      persist_dev_keys=False)
    p = policy.of(s)
    assert p.amendment_max_pct == Decimal("12.5") and p.stage_limit_days["evaluation"] == 5
    assert p.stage_limit_days["awarded"] == 30


@pytest.mark.parametrize("name,value", [("REDFLAG_FENCES_MINUTES", "soon"), ("REDFLAG_AMENDMENT_MAX_PCT", "-3"),
                                        ("STAGE_LIMIT_DAYS", "lunch=2"), ("REDFLAG_SYNC_BATCH", "0")])
def test_malformed_thresholds_refuse_to_start(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value}, persist_dev_keys=False)


@pytest.mark.parametrize("name", ["REDFLAG_MIN_SUBMISSION_DAYS", "REDFLAG_LATE_BID_MINUTES",
                                  "REDFLAG_RARE_WINNER_MAX_RATE", "REDFLAG_GAP_MIN_SAMPLE"])
def test_the_removed_red_flag_settings_are_refused_not_ignored(name):
    """The on-request engine they tuned is gone (Cardinal's indicators are tuned per publisher in
    REDFLAG_SETTINGS_DIR): a deployment still setting one is told at start, not silently ignored."""
    with pytest.raises(SettingsError, match=name):
        load_settings({name: "1"}, persist_dev_keys=False)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_REPLICA_URL", "MODE")}
    env["DATABASE_URL"] = DATABASE_URL
    return subprocess.run([sys.executable, "-m", "marketplace.cli", "export", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


async def test_export_command_writes_a_file_or_stdout(client, tmp_path):
    async with db.unit_of_work():
        await _insert(7, ruc="20100000001")
        await _insert(3, ruc="20100000002")
    out = tmp_path / "awards.jsonl"
    r = _cli("--format", "jsonl", "--supplier-ruc", "20100000001", "-o", str(out))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 7 and {x["supplier_ruc"] for x in lines} == {"20100000001"}
    assert "7 awards written" in r.stderr
    r = _cli("--format", "csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("award_id,") and len(r.stdout.splitlines()) == 11
    r = _cli("--supplier-ruc", "123")
    assert r.returncode != 0 and "RUC" in r.stderr
