"""`make screenshots`: the portal's key pages (home, an awarded tender, an open tender, the award explorer, open
data) on a desktop (1366x900) and a phone (390x844), in es, en and qu, as PNGs in screenshots/ (git-ignored)
for a reviewer to look at. Part of the suite too: each page renders, marked with its language, and nothing on
the phone overflows sideways."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.core import db
from tests.portal.test_browser import CHROMIUM, LAUNCH_ARGS, ROOT, live_server  # noqa: F401 (the fixture)

OUT = ROOT / "screenshots"
SIZES = {"desktop": ({"width": 1366, "height": 900}, 1), "phone": ({"width": 390, "height": 844}, 2)}
TAGS = {"es": "es-PE", "en": "en", "qu": "qu-PE"}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} is absent (install Debian's chromium: apt-get install chromium)")


async def test_key_pages_as_pngs_at_both_sizes_in_every_language(live_server):  # noqa: F811
    from playwright.async_api import async_playwright

    awarded = await db.fetchrow("SELECT tender_id FROM award ORDER BY value DESC LIMIT 1")
    open_tender = await db.fetchrow("SELECT id FROM tender WHERE state = 'tendering' ORDER BY title LIMIT 1")
    pages = {"home": "/", "tender": f"/tenders/{awarded['tender_id']}", "tender-open": f"/tenders/{open_tender['id']}",
             "awards": "/awards", "open-data": "/datos-abiertos"}
    OUT.mkdir(exist_ok=True)
    written = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            for size, (viewport, scale) in SIZES.items():
                context = await browser.new_context(viewport=viewport, device_scale_factor=scale,
                                                    is_mobile=size == "phone", has_touch=size == "phone")
                page = await context.new_page()
                for lang, tag in TAGS.items():
                    for name, path in pages.items():
                        await page.goto(f"{live_server}{path}?lang={lang}")
                        assert await page.get_attribute("html", "lang") == tag, (lang, path)
                        if size == "phone":
                            overflow = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
                            assert overflow <= 1, (path, lang, overflow)
                        target = OUT / f"{name}-{size}-{lang}.png"
                        await page.screenshot(path=str(target), full_page=True)
                        written.append(target)
                await context.close()
        finally:
            await browser.close()
    assert all(p.stat().st_size > 10_000 for p in written)
