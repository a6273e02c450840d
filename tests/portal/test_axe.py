"""axe-core in a real browser: every portal page in es, en and qu, on a desktop (1366x900) and a phone
(390x844), with 0 serious and 0 critical violations; on a page in en or qu no Spanish interface string
(tests/portal/test_languages.Checker over what the browser rendered); on the phone nothing overflows sideways.

Needs Debian's Chromium, the playwright package (never `playwright install`) and axe-core's axe.min.js from
npm (`npm install axe-core` in the checkout, or a system copy): it is read from disk, never downloaded.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pytest

from marketplace.core import db
from tests.portal.test_browser import CHROMIUM, LAUNCH_ARGS, ROOT, live_server  # noqa: F401 (the fixture)
from tests.portal.test_languages import Checker, data_values

AXE_PLACES = (ROOT / "node_modules/axe-core/axe.min.js", Path("/usr/lib/node_modules/axe-core/axe.min.js"),
              Path("/usr/local/lib/node_modules/axe-core/axe.min.js"),
              Path("/usr/share/javascript/axe-core/axe.min.js"))
AXE = next((p for p in AXE_PLACES if p.exists()), None)

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="the playwright package is absent"),
    pytest.mark.skipif(AXE is None, reason="axe-core's axe.min.js is absent (npm install axe-core)"),
]

SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


async def _paths() -> list[str]:
    tender = await db.fetchrow("SELECT tender_id FROM award LIMIT 1")
    open_tender = await db.fetchrow("SELECT id FROM tender WHERE state = 'tendering' LIMIT 1")
    winner = await db.fetchrow("SELECT a.supplier_id, t.agency_id FROM award a JOIN tender t ON t.id = a.tender_id"
                               " ORDER BY a.value DESC LIMIT 1")
    return ["/", "/tenders", "/tenders?limit=5", f"/tenders/{tender['tender_id']}", f"/tenders/{open_tender['id']}",
            "/catalog", "/catalog?q=cemento&ubigeo=080101", "/awards", f"/suppliers/{winner['supplier_id']}",
            f"/agencies/{winner['agency_id']}", "/red-flags", "/stage-times", "/verify", "/datos-abiertos",
            f"/tenders/{uuid.uuid4()}", "/no-such-page"]


async def test_every_page_passes_axe_in_every_language_and_size(live_server):  # noqa: F811
    from playwright.async_api import async_playwright

    paths = await _paths()
    values = await data_values()
    checkers = {"en": Checker("en", values, ("es",)), "qu": Checker("qu", values, ("es", "en"))}
    problems: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            for size, viewport in SIZES.items():
                context = await browser.new_context(viewport=viewport, is_mobile=size == "phone",
                                                    bypass_csp=True)  # axe is injected inline; the CSP has its own test
                page = await context.new_page()
                for lang in ("es", "en", "qu"):
                    for path in paths:
                        url = f"{live_server}{path}{'&' if '?' in path else '?'}lang={lang}"
                        await page.goto(url)
                        await page.add_script_tag(path=str(AXE))
                        result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
                        for v in result["violations"]:
                            if v["impact"] in ("serious", "critical"):
                                problems.append(f"{size} {lang} {path}: {v['id']} ({v['impact']}) "
                                                f"{[n['target'] for n in v['nodes']][:3]}")
                        if lang in checkers:
                            problems += [f"{size} {lang} {path}: {x}" for x in checkers[lang].foreign_in(
                                await page.content())]
                        if size == "phone":
                            overflow = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
                            if overflow > 1:
                                problems.append(f"{size} {lang} {path}: {overflow} px sideways")
                await context.close()
        finally:
            await browser.close()
    assert not problems, "\n".join(problems)
