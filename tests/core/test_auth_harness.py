"""The role harness itself: every persona signs in as what it claims, and a matrix reports every mismatch
at once (and refuses to forget a persona)."""

from __future__ import annotations

import pytest

from tests import factories
from tests.harness import PERSONAS, MatrixMismatch, check_matrix, personas


async def test_each_persona_is_who_it_says(client, settings):
    p = await personas(settings, client)
    expected = {
        "officer": ("agency", ["officer"], p.agency_id),
        "committee": ("agency", ["committee"], p.agency_id),
        "agency_admin": ("agency", ["agency_admin"], p.agency_id),
        "other_officer": ("agency", ["officer"], p.other_agency_id),
        "bidder": ("supplier", ["bidder"], p.supplier_id),
        "supplier_admin": ("supplier", ["supplier_admin"], p.supplier_id),
        "auditor": ("oversight", ["auditor"], p.oversight_id),
        "admin": ("platform", ["admin"], p.platform_id),
    }
    assert p.agency_id != p.other_agency_id
    for name, (kind, roles, org_id) in expected.items():
        me = (await client.get("/api/v1/auth/me", headers=p[name].headers)).json()
        assert (me["organisation"]["kind"], me["user"]["roles"], me["organisation"]["id"]) == (kind, roles,
                                                                                                str(org_id))
    # they can also sign in with the shared test password
    r = await client.post("/api/v1/auth/token", json={"username": p.bidder.email, "password": factories.PASSWORD})
    assert r.status_code == 200
    # both agencies are real, listed agencies
    ids = {a["id"] for a in (await client.get("/api/v1/agencies")).json()["items"]}
    assert ids == {str(p.agency_id), str(p.other_agency_id)}


async def test_a_matrix_reports_every_mismatch_at_once(client, settings):
    p = await personas(settings, client)
    with pytest.raises(MatrixMismatch) as err:
        await check_matrix(client, "GET", "/api/v1/auth/me", {
            p.anonymous: 200,  # wrong: 401
            p.officer: 200,
            "other_officer": 200,
            p.committee: {200, 204},
            p.bidder: 403,  # wrong: 200
            p.auditor: 200,
            p.admin: 200,
        }, personas=p)
    report = str(err.value)
    assert "2 of 7 personas differ" in report
    lines = report.splitlines()[1:]
    assert [line.split()[0] for line in lines] == ["anonymous", "bidder"]
    assert "got 401" in lines[0] and "got 200" in lines[1]


async def test_a_matrix_must_name_every_standard_persona(client, settings):
    p = await personas(settings, client)
    with pytest.raises(MatrixMismatch, match="anonymous"):
        await check_matrix(client, "GET", "/api/v1/auth/me", {p.officer: 200})
    responses = await check_matrix(client, "GET", "/api/v1/auth/me", {p.officer: 200}, complete=False)
    assert responses["officer"].json()["user"]["id"] == str(p.officer.user_id)
    assert set(PERSONAS) == {"anonymous", "officer", "other_officer", "committee", "bidder", "auditor", "admin"}


async def test_tokens_can_be_refreshed_after_the_clock_moves(client, settings, fixed_clock):
    p = await personas(settings, client)
    fixed_clock.advance(seconds=settings.jwt_ttl_seconds + 1)
    assert (await client.get("/api/v1/auth/me", headers=p.officer.headers)).status_code == 401
    await p.refresh(settings)
    assert (await client.get("/api/v1/auth/me", headers=p.officer.headers)).status_code == 200
