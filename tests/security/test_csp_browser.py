"""The Content-Security-Policy in a real browser (issue 17, finding 7): the portal's pages and charts, and
Swagger UI, load under it without one violation (Debian's Chromium driven by Playwright, against the portal
tests' live server on the demo data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.core import db
from tests.portal.conftest import site  # noqa: F401  # the demo data, a fixture of the portal's tests
from tests.portal.test_browser import CHROMIUM, LAUNCH_ARGS, live_server  # noqa: F401  # fixture

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} is absent (install Debian's chromium: apt-get install chromium)")

# Every violation the page reports, from its first script on.
RECORD = """document.addEventListener('securitypolicyviolation', e => {
  (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});"""


async def test_pages_charts_and_api_docs_run_under_the_csp(live_server):  # noqa: F811
    from playwright.async_api import async_playwright

    tender = await db.fetchrow("SELECT t.id FROM tender t WHERE EXISTS (SELECT 1 FROM award a WHERE"
                               " a.tender_id = t.id) ORDER BY t.title LIMIT 1")
    paths = ["/", "/tenders", f"/tenders/{tender['id']}", "/awards", "/catalog", "/red-flags", "/stage-times",
             "/verify", "/schema/swagger"]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            context = await browser.new_context(locale="es-PE")
            await context.add_init_script(RECORD)
            page = await context.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: console.append(str(exc)))
            seen: dict[str, list[str]] = {}
            for path in paths:
                response = await page.goto(live_server + path, wait_until="networkidle")
                assert response is not None and response.status == 200, path
                assert "frame-ancestors 'none'" in (await response.all_headers())["content-security-policy"]
                seen[path] = await page.evaluate("window.__csp || []")
            # the awards explorer's "more" link runs through htmx under the same policy
            await page.goto(live_server + "/awards", wait_until="networkidle")
            more = page.locator("#awards-pager a")
            if await more.count():
                await more.first.click()
                await page.wait_for_load_state("networkidle")
            seen["/awards (more)"] = await page.evaluate("window.__csp || []")
            # Swagger UI started (its bundle is ours and ran)
            assert {path: v for path, v in seen.items() if v} == {}
            await page.goto(live_server + "/schema/swagger", wait_until="networkidle")
            try:
                await page.locator(".swagger-ui .info").wait_for(timeout=60_000)
            finally:
                assert console == [], console
                assert await page.evaluate("window.__csp || []") == []
        finally:
            await browser.close()
    assert {path: v for path, v in seen.items() if v} == {}
