"""Pages and static files are compressed and cacheable: gzip, fingerprinted static files cached for a year,
pages with an ETag (304 on If-None-Match) and a short max-age that varies with the language."""

from __future__ import annotations

import re


async def test_pages_are_gzipped_with_an_etag_and_answer_304_when_unchanged(site):
    r = await site.get("/awards", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert all(v in r.headers["vary"] for v in ("Accept-Encoding", "Accept-Language", "Cookie", "HX-Request"))
    assert r.headers["cache-control"].startswith("public, max-age=")
    etag = r.headers["etag"]
    again = await site.get("/awards", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # another language is another page, with another tag
    en = await site.get("/awards", headers={"If-None-Match": etag, "Accept-Language": "en"})
    assert en.status_code == 200 and en.headers["etag"] != etag
    # errors and downloads are not cached as pages
    assert "etag" not in (await site.get("/no-such-page", headers={"Accept": "text/html"})).headers
    assert (await site.get("/datos-abiertos/adjudicaciones.csv")).headers["cache-control"] == "public, max-age=300"


async def test_static_files_are_fingerprinted_and_cached_long(site):
    page = (await site.get("/")).text
    css = re.search(r'href="(/static/portal\.css\?v=[0-9a-f]{12})"', page)
    assert css
    r = await site.get(css.group(1), headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert "max-age=31536000" in r.headers["cache-control"] and "immutable" in r.headers["cache-control"]
    assert r.headers["content-encoding"] == "gzip" and r.headers.get("etag")
    assert ".hbars" in r.text
