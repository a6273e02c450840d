"""Problem details speak Quechua too: `Accept-Language: qu` (or `qu-PE`) gets the title, the detail and the
field messages from the qu catalogue, for a domain's 422, 404 and 409, a validation 422, and the router's own
404 and 405 (refused before any middleware runs); the response says its language (Content-Language)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from marketplace.core import clock, i18n
from tests.tenders import factories as tf

QU = ("qu", "qu-PE", "qu-PE, es;q=0.8, en;q=0.5")


def _qu(msgid: str, **params: object) -> str:
    text = i18n.catalog("qu")[msgid]  # KeyError: no Quechua for it
    assert text != i18n.catalog("es").get(msgid), msgid
    return text.format(**params) if params else text


def _problem(r, status: int, type_: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["content-language"] == "qu-PE"
    body = r.json()
    assert body["type"].endswith(f"/{type_}")
    return body


@pytest.mark.parametrize("accept", QU)
async def test_a_tender_refused_in_quechua(client, settings, fixed_clock, accept):
    officer = await tf.officer(settings)
    headers = {**officer.headers, "Accept-Language": accept}
    # 422 from a domain rule, a plural message: licitación pública needs 22 days
    t = await tf.draft(client, officer, method="public_tender")
    body = _problem(await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=headers), 422,
                    "validation-error")
    wanted = i18n.gettext(i18n.N_plural("This method needs at least {days} day between publication and the deadline",
                                        "This method needs at least {days} days between publication and the deadline",
                                        "days"), "qu", days=22)
    assert body["title"] == _qu("The request is not valid")
    assert body["detail"] == wanted == body["errors"][0]["message"] and "22" in wanted
    assert (body["errors"][0]["field"], body["errors"][0]["rule"]) == ("submission_deadline", "min_submission_period")
    # 409: publishing twice
    t = await tf.published(client, officer)
    body = _problem(await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=headers), 409, "conflict")
    assert body["title"] == _qu("The request conflicts with the current state")
    assert body["detail"] == _qu("This action is not allowed while the tender is {state}", state="published")
    # 404 from a domain
    body = _problem(await client.get(f"/api/v1/tenders/{uuid.uuid4()}", headers=headers), 404, "not-found")
    assert (body["title"], body["detail"]) == (_qu("Not found"), _qu("Tender not found"))


@pytest.mark.parametrize("accept", QU)
async def test_validation_and_the_routers_refusals_in_quechua(client, accept):
    headers = {"Accept-Language": accept}
    # 422 from validation: msgspec's message said again
    body = _problem(await client.post("/api/v1/auth/token", headers=headers, json={"username": "x@y.pe"}), 422,
                    "validation-error")
    assert body["title"] == _qu("The request is not valid")
    assert body["errors"][0] == {"field": "password", "rule": "required", "message": _qu("This field is required")}
    body = _problem(await client.post("/api/v1/auth/token", headers={**headers, "content-type": "application/json"},
                                      content=b"{nope"), 422, "validation-error")
    assert body["errors"][0]["message"] == _qu("The body is not valid JSON")
    # 404 and 405 from the router itself
    body = _problem(await client.get("/api/v1/no-such-thing", headers=headers), 404, "not-found")
    assert (body["title"], body["detail"]) == (_qu("Not found"), _qu("There is nothing at this address"))
    body = _problem(await client.delete("/api/v1/tenders", headers=headers), 405, "method-not-allowed")
    assert (body["title"], body["detail"]) == (_qu("Method not allowed"),
                                              _qu("This address does not answer this HTTP method"))


async def test_the_plural_form_follows_the_number_in_each_language(client, settings, fixed_clock):
    """contratación directa needs 1 day: 'at least 1 day', 'al menos 1 día'."""
    officer = await tf.officer(settings)
    now = clock.now()
    t = await tf.draft(client, officer, method="direct_contracting",
                       enquiry_end=(now + timedelta(hours=1)).isoformat(),
                       submission_deadline=(now + timedelta(hours=12)).isoformat(),
                       opening_time=(now + timedelta(hours=13)).isoformat())
    details = {}
    for lang in ("es", "en", "qu"):
        r = await client.post(f"/api/v1/tenders/{t['id']}/publish",
                              headers={**officer.headers, "Accept-Language": lang})
        assert r.status_code == 422, r.text
        details[lang] = r.json()["detail"]
    assert details["en"] == "This method needs at least 1 day between publication and the deadline"
    assert "al menos 1 día entre" in details["es"]
    assert "1 p'unchay" in details["qu"]
