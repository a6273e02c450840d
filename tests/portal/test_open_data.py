"""The open-data page says what is published and links it; its CSVs open right in a spreadsheet: a BOM,
amounts in soles with two decimals, times in Lima."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC
from decimal import Decimal
from zoneinfo import ZoneInfo

from marketplace.core import db

LIMA = ZoneInfo("America/Lima")


def _rows(r) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


async def test_the_open_data_page_lists_what_is_published_with_working_links(site, settings):
    r = await site.get("/datos-abiertos")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    text = r.text
    assert "<h1>Datos abiertos</h1>" in text
    base = settings.public_base_url.rstrip("/")
    for path in ("/ocds/releases", "/ocds/bulk", "/datos-abiertos/convocatorias.csv",
                 "/datos-abiertos/adjudicaciones.csv", "/datos-abiertos/contratos.csv", "/datos-abiertos/alertas.csv"):
        assert f'href="{base}{path}"' in text or f'href="{path}"' in text, path
    for path in re.findall(r'href="(/datos-abiertos/[^"]+)"', text):
        assert (await site.get(path)).status_code == 200, path
    assert "CC BY 4.0" in text and "<code>amount</code>" in text
    # the footer links here (not to raw JSON)
    assert '<a href="/datos-abiertos">Datos abiertos</a>' in (await site.get("/")).text


async def test_the_awards_csv_has_soles_and_lima_times(site):
    rows = _rows(await site.get("/datos-abiertos/adjudicaciones.csv"))
    awards = await db.fetch("SELECT id, value, notified_at AS awarded_at FROM award WHERE state <> 'cancelled'")
    assert len(rows) == len(awards) > 0
    by_id = {str(a["id"]): a for a in awards}
    for row in rows:
        a = by_id[row["award_id"]]
        assert row["amount"] == f"{Decimal(a['value']) / 100:.2f}"
        assert row["awarded_at_lima"] == a["awarded_at"].astimezone(LIMA).strftime("%Y-%m-%d %H:%M:%S")
        assert "value" not in row  # no céntimos beside the amount
    # accents survive (the demo's suppliers have them)
    assert any(any(ch in row["supplier_name"] for ch in "áéíóúñ") for row in rows)
    # the explorer's download is the same file, filtered
    assert len(_rows(await site.get("/awards.csv"))) == len(rows)


async def test_the_tenders_contracts_and_red_flags_csvs(site):
    tenders = _rows(await site.get("/datos-abiertos/convocatorias.csv"))
    public = await db.fetch("SELECT id, published_at FROM tender WHERE state <> 'draft'")
    assert {r["tender_id"] for r in tenders} == {str(t["id"]) for t in public}
    for r in tenders:
        assert re.fullmatch(r"\d+\.\d{2}", r["estimated_amount"]), r
        assert r["published_at_lima"] == "" or re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r["published_at_lima"])

    contracts = _rows(await site.get("/datos-abiertos/contratos.csv"))
    n = (await db.fetchrow("SELECT count(*) AS n FROM contract"))["n"]
    assert len(contracts) == n > 0
    assert all(r["agency_name"] and r["supplier_name"] and re.fullmatch(r"\d+\.\d{2}", r["amount"])
               for r in contracts)
    one = await db.fetchrow("SELECT id, signed_at FROM contract WHERE signed_at IS NOT NULL LIMIT 1")
    if one:
        row = next(r for r in contracts if r["contract_id"] == str(one["id"]))
        assert row["signed_at_lima"] == one["signed_at"].astimezone(UTC).astimezone(LIMA).strftime(
            "%Y-%m-%d %H:%M:%S")

    flags = _rows(await site.get("/datos-abiertos/alertas.csv"))
    assert all(r["code"] and r["flag"] and r["evidence"].startswith("{") for r in flags)
    # The red-flag read model, as the page and the API give it (newest first), with the same evidence.
    api = (await site.get("/api/v1/oversight/red-flags", params={"limit": 500})).json()
    assert api["next_cursor"] is None and api["items"]
    assert [(r["code"], r["ocid"], r["publisher"], r["subject"], r["subject_id"], json.loads(r["evidence"]))
            for r in flags] == [(f["code"], f["ocid"] or "", f["publisher"], f["scope"], f["subject"], f["evidence"])
                                for f in api["items"]]
    assert (await site.get("/datos-abiertos/nada.csv")).status_code == 404
