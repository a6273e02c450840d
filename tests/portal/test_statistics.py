"""Statistics state their sample: below PORTAL_MIN_SAMPLE a concentration index or a stage time reads "not
enough data (n=...)"; drafts and stages that took no time are not stage times. Charts carry their title and
unit outside the drawing, months and numbers in the reader's language."""

from __future__ import annotations

import html
import re

from marketplace.core import db


async def test_concentration_is_shown_only_with_enough_awards(site, settings):
    low = settings.portal_min_sample
    agencies = await db.fetch(
        "SELECT t.agency_id, count(*) AS n FROM award a JOIN tender t ON t.id = a.tender_id"
        " WHERE a.state <> 'cancelled' GROUP BY t.agency_id")
    assert agencies
    for a in agencies:
        text = html.unescape((await site.get(f"/agencies/{a['agency_id']}")).text)
        if a["n"] < low:
            assert f"datos insuficientes (n={a['n']})" in text
        else:
            assert re.search(r"Concentración de proveedores \(IHH\)</dt><dd>[\d,]+ ", text), a
    text = html.unescape((await site.get("/awards")).text)
    if any(a["n"] >= low for a in agencies):
        assert "de 0 a 10,000" in text  # the unit in the caption; the same number format as the figures
    for a in agencies:
        if a["n"] < low:
            assert f"datos insuficientes (n={a['n']})" in text


async def test_stage_times_leave_out_drafts_and_instant_stages_and_state_their_sample(site, settings):
    rows = await db.fetch(
        "SELECT stage, count(*) AS n FROM tender_stage WHERE left_at IS NOT NULL GROUP BY stage")
    assert rows
    text = html.unescape((await site.get("/stage-times")).text)
    table = text.split('id="st-h"')[1].split('id="stuck-h"')[0]
    assert "Borrador" not in table
    assert not re.search(r"[^0-9]0\.0 días", text)
    assert "(n=" in text  # every figure of the chart names its sample
    if any(r["n"] < settings.portal_min_sample for r in rows):
        assert "datos insuficientes (n=" in text
    en = html.unescape((await site.get("/stage-times", params={"lang": "en"})).text)
    assert "days, median" in en


async def test_charts_have_captions_with_units_and_localised_months(site):
    text = html.unescape((await site.get("/awards")).text)
    for cap in ("months-cap", "awards-map-cap"):
        assert f'<figcaption id="{cap}">' in text
    assert '<figcaption id="hhi-cap">' in text or "Ninguna entidad tiene aún suficientes" in text
    assert "(soles, hora de Lima)" in text
    # months by name in the table and the chart, never 2026-10
    assert not re.search(r"<td>\d{4}-\d\d</td>", text)
    assert re.search(r"<td>[a-z]+ de \d{4}</td>", text)
    en = html.unescape((await site.get("/awards", params={"lang": "en"})).text)
    assert re.search(r"<td>[A-Z][a-z]+ \d{4}</td>", en)
    # the money axis writes the symbol one way
    axis = re.findall(r'text-anchor="end" font-size="\d+" fill="#1a1a1a">([^<]+)<', text)
    assert axis and all(a.startswith("S/\xa0") for a in axis), axis
    # the map holds links: not an image (whose content assistive technology skips)
    assert re.search(r'<svg [^>]*role="group"[^>]*id="awards-map"', text)


async def test_accessibility_fixes_verify_page_links_and_scrollable_code(site):
    text = (await site.get("/verify")).text
    assert '<pre tabindex="0" role="region"' in text  # keyboard-scrollable, named
    for url in ("/api/v1/keys", "/api/v1/audit/checkpoints", "/api/v1/audit/verify"):
        assert f'<a href="{url}">{url}</a>' in text
    # a table's scroll region is not named like the section around it (landmarks have unique names)
    tender = await db.fetchrow("SELECT tender_id FROM award LIMIT 1")
    page = (await site.get(f"/tenders/{tender['tender_id']}")).text
    names = re.findall(r'role="region" aria-label="([^"]+)"', page)
    sections = re.findall(r'<h2 id="[^"]+">([^<]+)</h2>', page)
    assert names and not set(names) & set(sections)
    assert len(names) == len(set(names))


async def test_the_minimum_sample_decides_which_figures_are_shown(site):
    from marketplace.portal import sources

    f = sources.filters()
    every = await sources.concentration_sized(f, 1, limit=100)
    assert every and all(r["enough"] for r in every)
    assert [float(r["hhi"]) for r in every] == sorted((float(r["hhi"]) for r in every), reverse=True)
    most = max(r["awards"] for r in every)
    strict = await sources.concentration_sized(f, most + 1, limit=100)
    assert not any(r["enough"] for r in strict)
    rows = [{"stage": "draft", "p90_days": 3.0, "count": 9}, {"stage": "opening", "p90_days": 0.0, "count": 9},
            {"stage": "evaluation", "p90_days": 4.0, "count": 2}, {"stage": "awarded", "p90_days": 8.0, "count": 7}]
    shown = sources.stage_rows(rows, 5)
    assert [(r["stage"], r["enough"]) for r in shown] == [("evaluation", False), ("awarded", True)]
