"""The portal in a real browser: Debian's Chromium driven by Playwright (never `playwright install`), against
a live server (uvicorn in a subprocess) on the test database holding the demo data.

Opens the home page, searches for tenders, opens a tender, switches language (English, then Quechua), downloads
the award history as CSV, checks the keyboard path (skip link) and a phone-sized screen; screenshots go to
tests/artifacts/ (gitignored).
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from marketplace.core import db
from tests import waiting

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} is absent (install Debian's chromium: apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(site, settings, tmp_path_factory):
    """uvicorn serving the app on a free port, on the same (seeded) test database and Redis."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url or "",
           "DATA_DIR": str(tmp_path_factory.mktemp("live")), "HOST": "127.0.0.1", "PORT": str(port),
           "DB_POOL_MAX": "5"}
    log = open(tmp_path_factory.mktemp("live-log") / "server.log", "w+")  # noqa: SIM115 (the server's log)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "marketplace.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + waiting.SECONDS  # the server becoming ready: generous on a busy machine
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"the server exited: {log.read()[-3000:]}")
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer /health within {waiting.SECONDS:.0f} s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


# What every page must have: a language, one h1, no skipped heading level, a label for every form control, a
# title for every chart.
A11Y_CHECK = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push('no lang');
  const h1 = document.querySelectorAll('main h1').length;
  if (h1 !== 1) problems.push('h1 count ' + h1);
  let last = 0;
  for (const h of document.querySelectorAll('main h1, main h2, main h3, main h4')) {
    const level = +h.tagName[1];
    if (last && level > last + 1) problems.push('heading jump to ' + h.tagName + ' ' + h.textContent.trim());
    last = level;
  }
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
      problems.push('unlabelled ' + (el.id || el.name));
  }
  for (const svg of document.querySelectorAll('svg.chart')) {
    if (!svg.querySelector('title') || !svg.getAttribute('aria-labelledby')) problems.push('chart without a title');
  }
  return problems;
}"""

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


async def test_a_citizen_searches_opens_a_tender_switches_language_and_downloads_awards(live_server):
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # an awarded tender: its page has the most to show (opening, score sheets, awards)
    tender = await db.fetchrow(
        "SELECT t.id, t.title FROM tender t WHERE EXISTS (SELECT 1 FROM award a WHERE a.tender_id = t.id)"
        " ORDER BY t.title LIMIT 1")
    word = max(tender["title"].split(), key=len)  # its most distinctive word

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                                locale="es-PE")
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            # Home, in Spanish by default
            await page.goto(live_server + "/")
            assert await page.get_attribute("html", "lang") == "es-PE"
            await page.get_by_role("heading", name="Contrataciones públicas, a la vista").wait_for()
            await page.screenshot(path=str(ARTIFACTS / "01-home.png"), full_page=True)

            # The keyboard path: the first Tab lands on the skip link, which is shown
            await page.keyboard.press("Tab")
            focused = await page.evaluate("document.activeElement.className")
            assert focused == "skip-link"
            assert await page.locator(".skip-link").is_visible()
            await page.screenshot(path=str(ARTIFACTS / "02-skip-link.png"))
            await page.keyboard.press("Enter")
            assert await page.evaluate("document.activeElement.id") == "main"

            # Search tenders for a place (local first)
            await page.fill("#tq", word)
            await page.select_option("#tplace", "210100")
            await page.get_by_role("button", name="Buscar convocatorias").first.click()
            await page.wait_for_url("**/tenders?**")
            assert f"q={word}" in unquote(page.url)
            link = page.locator(f'a[href="/tenders/{tender["id"]}"]')
            await link.first.wait_for()
            await page.screenshot(path=str(ARTIFACTS / "03-search.png"), full_page=True)

            # Open the tender
            await link.first.click()
            await page.wait_for_url(f"**/tenders/{tender['id']}")
            await page.get_by_role("heading", name="Línea de tiempo").wait_for()
            await page.get_by_role("heading", name="Cuadros de evaluación").wait_for()
            main = await page.inner_text("main")
            assert "S/" in main and "Aún sin buena pro" not in main
            await page.screenshot(path=str(ARTIFACTS / "04-tender-es.png"), full_page=True)

            # Switch language: English, then Quechua; the cookie keeps the choice
            await page.get_by_role("link", name="English").click()
            await page.wait_for_url(f"**/tenders/{tender['id']}")
            assert await page.get_attribute("html", "lang") == "en"
            await page.get_by_role("heading", name="Timeline").wait_for()
            await page.screenshot(path=str(ARTIFACTS / "05-tender-en.png"), full_page=True)
            await page.get_by_role("link", name="Runasimi").click()
            await page.wait_for_url(f"**/tenders/{tender['id']}")
            assert await page.get_attribute("html", "lang") == "qu-PE"
            await page.goto(live_server + "/")
            assert await page.get_attribute("html", "lang") == "qu-PE"
            await page.screenshot(path=str(ARTIFACTS / "06-home-qu.png"), full_page=True)
            await page.get_by_role("link", name="Español").click()

            # The award history explorer and its CSV download
            await page.goto(live_server + "/awards")
            await page.get_by_role("heading", name="Historial de adjudicaciones").wait_for()
            await page.screenshot(path=str(ARTIFACTS / "07-awards.png"), full_page=True)
            async with page.expect_download() as info:
                await page.get_by_role("link", name="Descargar CSV").first.click()
            download = await info.value
            target = ARTIFACTS / "awards.csv"
            await download.save_as(str(target))
            with target.open(newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.reader(fh))
            awards = (await db.fetchrow("SELECT count(*) AS n FROM award"))["n"]
            assert rows[0][:2] == ["award_id", "tender_id"] and len(rows) - 1 == awards > 0

            # "More awards" appends the next rows in place (htmx, served from /static), without leaving the page
            await page.goto(live_server + "/awards?limit=2")
            rows = page.locator("#award-rows > tr")
            assert await rows.count() == 2
            more = page.get_by_role("link", name="Más adjudicaciones")
            while await more.count():
                before = await rows.count()
                await more.click()
                await page.locator('#award-rows > tr').nth(before).wait_for()  # one more row (no eval: the CSP)
            assert await rows.count() == awards and page.url.endswith("/awards?limit=2")
            await page.screenshot(path=str(ARTIFACTS / "07b-more-awards.png"), full_page=True)

            # A map region is a link to that region's awards
            await page.locator("svg#awards-map a, #awards-map-t").count()
            await page.locator("figure.map a").first.click()
            await page.wait_for_url("**/awards?**region=**")
            # The other pages, for a look
            winner = await db.fetchrow("SELECT a.supplier_id, t.agency_id FROM award a JOIN tender t"
                                       " ON t.id = a.tender_id ORDER BY a.value DESC LIMIT 1")
            for name, path in (("11-supplier", f"/suppliers/{winner['supplier_id']}"),
                               ("12-agency", f"/agencies/{winner['agency_id']}"),
                               ("13-catalog", "/catalog?q=cemento&ubigeo=080100"), ("14-red-flags", "/red-flags"),
                               ("15-stage-times", "/stage-times"), ("16-verify", "/verify"),
                               ("17-not-found", "/tenders/00000000-0000-0000-0000-000000000000")):
                await page.goto(live_server + path)
                await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            for path in ("/", "/tenders", f"/tenders/{tender['id']}", "/catalog?q=cemento", "/awards",
                         f"/suppliers/{winner['supplier_id']}", f"/agencies/{winner['agency_id']}", "/red-flags",
                         "/stage-times", "/verify", "/tenders/nothing-here"):
                await page.goto(live_server + path)
                assert await page.evaluate(A11Y_CHECK) == [], path
            assert errors == []
            await context.close()

            # A phone-sized screen: nothing overflows sideways
            phone = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                              is_mobile=True, has_touch=True)
            page = await phone.new_page()
            for name, path in (("08-phone-home", "/"), ("09-phone-tender", f"/tenders/{tender['id']}"),
                               ("10-phone-awards", "/awards")):
                await page.goto(live_server + path)
                overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 1, (path, overflow)
                await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=path == "/awards")
            await phone.close()
        finally:
            await browser.close()
