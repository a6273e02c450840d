"""Counts on the portal are true: exact, or "more than N" in words; paging never opens an empty page; the
sentence takes the plural form of its number in each language."""

from __future__ import annotations

import re

from marketplace.core import db
from marketplace.portal.api import PAGE, Paged
from search.domain import Hit, Page


def _hits(n: int) -> list[Hit]:
    return [Hit(id=str(i), doc={}, score=0.0) for i in range(n)]


def test_an_estimated_count_is_never_shown_as_a_count():
    # the planner's estimate (210) for a list whose next page exists: only what is known is said
    p = Paged(Page(hits=_hits(PAGE + 1), total=210, total_exact=False, offset=0, limit=PAGE + 1), 0, PAGE)
    assert (p.exact, p.total, p.has_next, len(p.hits)) == (False, PAGE, True, PAGE)
    # the last page of an estimated list: now the count is known exactly
    p = Paged(Page(hits=_hits(4), total=210, total_exact=False, offset=PAGE, limit=PAGE + 1), PAGE, PAGE)
    assert (p.exact, p.total, p.has_next) == (True, PAGE + 4, False)
    # exactly one full page: no next page
    p = Paged(Page(hits=_hits(PAGE), total=PAGE, total_exact=True, offset=0, limit=PAGE + 1), 0, PAGE)
    assert (p.exact, p.total, p.has_next) == (True, PAGE, False)


def _next(text: str) -> str | None:
    m = re.search(r'<a href="(/tenders\?[^"]*)" rel="next"', text)
    return m.group(1).replace("&amp;", "&") if m else None


async def test_the_tender_list_counts_exactly_and_pages_to_the_last_result(site):
    n = (await db.fetchrow("SELECT count(*) AS n FROM tender WHERE state <> 'draft'"))["n"]
    size = 5
    assert n > 2 * size  # a list of several pages
    r = await site.get("/tenders", params={"limit": size})
    assert r.status_code == 200
    # the search may only estimate a large count: then the page says what is sure, never the estimate
    assert f"{n} convocatorias encontradas." in r.text or f"Se encontraron más de {size} convocatorias." in r.text
    assert f"Mostrando del 1 al {size}." in r.text
    seen = r.text.count('class="card tender-card"')
    assert seen == size
    nxt = _next(r.text)
    pages = 1
    while nxt:
        r = await site.get(nxt)
        got = r.text.count('class="card tender-card"')
        assert got > 0, nxt  # "Next" never opens an empty page
        shown = re.search(r'<p role="status">(.*?)</p>', r.text, re.S).group(1)
        assert f"{n} convocatorias encontradas." in shown or "más de" in shown
        seen += got
        pages += 1
        nxt = _next(r.text)
    assert seen == n and pages == -(-n // size)
    assert f"{n} convocatorias encontradas." in r.text  # the last page knows the count exactly
    assert 'rel="prev"' in r.text

    # past the end (a hand-made address): said so, with the way back; no "Next"
    r = await site.get("/tenders", params={"offset": 10 * n, "limit": size})
    assert "past the end" in r.text or "más allá del final" in r.text
    assert _next(r.text) is None


async def test_one_result_is_singular_in_every_language(site):
    t = await db.fetchrow("SELECT title, ocid FROM tender WHERE state <> 'draft' ORDER BY title LIMIT 1")
    # the OCID's words are unique to one tender in the demo; search its most distinctive title word
    words = sorted(t["title"].split(), key=len, reverse=True)
    for word in words:
        r = await site.get("/tenders", params={"q": word})
        if "1 convocatoria encontrada." in r.text:
            break
    else:
        raise AssertionError("no word of a title finds exactly one tender")
    assert "convocatorias encontradas" not in r.text
    en = await site.get("/tenders", params={"q": word, "lang": "en"})
    assert "1 tender found." in en.text
    qu = await site.get("/tenders", params={"q": word, "lang": "qu"})
    assert "1 waqyakuy tarikun." in qu.text
