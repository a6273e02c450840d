"""Errors answer a browser with a page in its language (title, lang, the problem's words) and an API client
with problem+json, by content negotiation on Accept."""

from __future__ import annotations

import html
import uuid

import pytest
from litestar import Litestar, get
from litestar.exceptions import PermissionDeniedException
from litestar.testing import TestClient

from marketplace.core.errors import exception_handlers
from marketplace.portal.errors import negotiate_all
from marketplace.portal.templating import template_config

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(("lang", "tag", "heading"), [
    ("es", "es-PE", "No encontramos esa página"),
    ("en", "en", "We could not find that page"),
    ("qu", "qu-PE", "Manam chay p'anqata tarinchikchu"),
])
async def test_an_unknown_address_gets_the_not_found_page_in_the_browsers_language(site, lang, tag, heading):
    for path in ("/no-such-page", "/api/v1/no-such-thing", "/tenders/x/y/z", f"/tenders/{uuid.uuid4()}"):
        r = await site.get(path, headers={"Accept": BROWSER, "Accept-Language": lang})
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html"), path
        assert f'<html lang="{tag}">' in r.text
        text = html.unescape(r.text)
        title = text.split("<title>")[1].split("</title>")[0]
        assert "Mercado Abierto" in title and title.split(" · ")[0].strip(), title
        if heading:
            assert heading in title and f">{heading}</h1>" in text
        assert "Not Found" not in r.text


async def test_api_clients_keep_problem_json(site):
    for accept in (None, "*/*", "application/json", "application/problem+json"):
        headers = {"Accept": accept} if accept else {}
        r = await site.get("/no-such-page", headers=headers)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json"), accept
        assert r.json()["status"] == 404
    # an API resource missing: problem+json for a client, a page for a browser
    r = await site.get(f"/api/v1/tenders/{uuid.uuid4()}")
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await site.get(f"/api/v1/tenders/{uuid.uuid4()}", headers={"Accept": BROWSER})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    # a portal page asked for anything (curl) is a page; asked for JSON, the problem
    r = await site.get(f"/tenders/{uuid.uuid4()}", headers={"Accept": "*/*"})
    assert r.headers["content-type"].startswith("text/html")
    r = await site.get(f"/tenders/{uuid.uuid4()}", headers={"Accept": "application/json"})
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_wrong_method_and_a_forbidden_resource_are_pages_for_a_browser(site):
    r = await site.delete("/tenders", headers={"Accept": BROWSER})
    assert r.status_code == 405 and r.headers["content-type"].startswith("text/html")
    assert "<h1" in r.text and 'lang="es-PE"' in r.text
    r = await site.get("/api/v1/oversight/alarms", headers={"Accept": BROWSER, "Accept-Language": "en"})
    assert r.status_code in (401, 403) and r.headers["content-type"].startswith("text/html")
    assert "Sign in to see this page" in r.text or "You may not see this page" in r.text


def test_an_internal_error_is_a_page_with_its_reference_for_a_browser_and_a_problem_for_a_client():
    @get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @get("/secret")
    async def secret() -> None:
        raise PermissionDeniedException()

    app = Litestar(route_handlers=[boom, secret], exception_handlers=negotiate_all(exception_handlers),
                   template_config=template_config())
    with TestClient(app) as client:
        r = client.get("/boom", headers={"Accept": BROWSER, "Accept-Language": "en"})
        assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
        assert "Something went wrong on our side" in r.text and "Reference: " in r.text and "a bug" not in r.text
        r = client.get("/boom")
        assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["error_id"]
        r = client.get("/secret", headers={"Accept": BROWSER, "Accept-Language": "es"})
        assert r.status_code == 403 and "No puede ver esta página" in html.unescape(r.text)
