"""Issue 17, finding 7: deep or huge bodies are refused (never a 500), security headers on every response,
documents served as bytes to save, Swagger UI without a CDN, /metrics not public and without bid counts,
registration that does not reveal existing accounts."""

from __future__ import annotations

import dataclasses

import pytest

from marketplace.core import db
from marketplace.core.hardening import json_depth, too_deep
from tests import factories
from tests.suppliers.test_registry import registration
from tests.tenders import factories as tf


def _problem(r, status: int, field: str, rule: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["field"], body["rule"]) == (field, rule), body
    return body


# --- JSON depth and body size ---------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/suppliers", "/api/v1/tenders"])
async def test_deeply_nested_json_is_a_400_never_a_500(client, path, content_type):
    body = b"[" * 1000 + b"]" * 1000
    headers = {"content-type": content_type} if content_type else {}
    r = await client.post(path, content=body, headers={**headers, "Accept-Language": "en"})
    problem = _problem(r, 400, "body", "max_depth")
    assert "nested deeper than 32 levels" in problem["detail"]


async def test_depth_message_in_spanish_and_objects_count_too(client):
    body = b'{"a":' * 40 + b"1" + b"}" * 40
    r = await client.post("/api/v1/auth/token", content=body, headers={"content-type": "application/json"})
    assert "niveles de anidamiento" in _problem(r, 400, "body", "max_depth")["detail"]


async def test_brackets_inside_strings_do_not_count(client):
    password = "[" * 200 + "{" * 200
    r = await client.post("/api/v1/auth/token", json={"username": "nadie@example.pe", "password": password})
    assert r.status_code == 401, r.text


def test_json_depth():
    assert json_depth(b'{"a": [1, {"b": "]]]"}], "c": "\\"["}') == 3
    assert json_depth(b"[]") == 1 and json_depth(b'"x"') == 0
    assert not too_deep(b"[" * 32 + b"]" * 32, 32) and too_deep(b"[" * 33 + b"]" * 33, 32)


async def test_a_body_over_the_limit_is_413(client, settings):
    limit = settings.security.request_max_body_bytes
    r = await client.post("/api/v1/auth/token", content=b" " * (limit + 1),
                          headers={"content-type": "application/json", "Accept-Language": "en"})
    assert f"at most {limit} bytes" in _problem(r, 413, "body", "max_size")["detail"]


# --- security headers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/health", "/", "/awards", "/api/v1/tenders", "/no/such/page",
                                  "/api/v1/auth/me"])
async def test_security_headers_on_pages_api_and_errors(client, path):
    r = await client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "strict-transport-security" not in r.headers  # PUBLIC_BASE_URL is http here


async def test_swagger_ui_is_served_from_our_own_files(client):
    r = await client.get("/schema/swagger")
    assert r.status_code == 200, r.text
    assert "cdn." not in r.text and "unpkg" not in r.text and "https://" not in r.text.split("<body")[0]
    assert "/_docs/swagger-ui/swagger-ui-bundle.js" in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    js = await client.get("/_docs/swagger-ui/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert (await client.get("/_docs/swagger-ui/swagger-ui.css")).status_code == 200


# --- documents ------------------------------------------------------------------------------------------

async def test_documents_are_served_as_bytes_to_save_whatever_their_declared_type(client, settings):
    officer = await tf.officer(settings)
    t = await tf.draft(client, officer)
    page = b"<html><script>alert(document.cookie)</script></html>"
    r = await client.post(f"/api/v1/tenders/{t['id']}/documents", files={"file": ("bases.html", page, "text/html")},
                          data={"title": "Bases"}, headers=officer.headers)
    assert r.status_code == 201, r.text
    doc = r.json()
    await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=officer.headers)
    r = await client.get(f"/api/v1/tenders/{t['id']}/documents/{doc['document_id']}")
    assert r.status_code == 200 and r.content == page
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"


# --- /metrics -------------------------------------------------------------------------------------------

async def test_metrics_are_not_served_without_a_token_setting(client):
    assert (await client.get("/metrics")).status_code == 404


@pytest.fixture
def metrics_token(app, settings):
    token = "metrics-token-for-the-test-0123"
    app.state["settings"] = dataclasses.replace(
        settings, security=dataclasses.replace(settings.security, metrics_token=token))
    yield token
    app.state["settings"] = settings


async def test_metrics_need_the_token_and_never_count_bids(client, settings, fixed_clock, metrics_token):
    officer = await tf.officer(settings)
    supplier = await tf.supplier(settings)
    tender = await tf.published(client, officer)
    tf.to_tendering(fixed_clock, tender)
    await tf.bid(client, supplier, tender, prices=[120_000_00])
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"})).status_code == 401
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
    assert r.status_code == 200, r.text
    assert "/api/v1/tenders/{tender_id}/publish" in r.text  # requests are counted...
    assert "bids" not in r.text  # ...but not the bids


# --- registration does not reveal accounts --------------------------------------------------------------

@pytest.mark.parametrize("lang", ["es", "en"])
async def test_registration_with_an_existing_email_answers_as_a_new_one(client, settings, lang):
    existing = await factories.login(settings, "agency", "officer")
    new = registration(ruc=factories.make_ruc("20"))
    new["admin"]["email"] = f"nuevo-{lang}@example.pe"
    taken = registration(ruc=factories.make_ruc("20"))
    taken["admin"]["email"] = existing.email.upper()
    headers = {"Accept-Language": lang}
    a = await client.post("/api/v1/suppliers", json=new, headers=headers)
    b = await client.post("/api/v1/suppliers", json=taken, headers=headers)
    assert a.status_code == b.status_code == 202, (a.text, b.text)
    assert a.json() == b.json() and a.headers["content-length"] == b.headers["content-length"]
    assert ("Inscripción recibida" if lang == "es" else "Registration received") in a.json()["detail"]
    assert await db.fetchrow("SELECT 1 FROM supplier WHERE ruc = $1", taken["ruc"]) is None
    assert await db.fetchrow("SELECT 1 FROM supplier WHERE ruc = $1", new["ruc"]) is not None
