"""`marketplace seed --demo`: a believable dataset on an empty database, and nothing on a used one."""

import gzip
import shutil
from datetime import UTC, datetime

from stdnum.pe import ruc as ruc_mod

from marketplace import seed
from marketplace.core import db
from marketplace.core.auth import service as auth
from marketplace.oversight.ocds import publisher
from tests.conftest import _truncate


async def test_demo_seed_fills_an_empty_database_with_valid_peruvian_data(client, settings):
    demo = await seed.seed_demo(settings=settings)
    assert demo is not None

    kinds = {r["kind"]: r["n"] for r in await db.fetch("SELECT kind, count(*) AS n FROM organisation GROUP BY kind")}
    # Later seeders (suppliers, tenders) may add organisations of their own.
    assert kinds["platform"] == 1 and kinds["oversight"] == 1
    assert kinds["agency"] >= len(seed.AGENCIES) and kinds["supplier"] >= len(seed.SUPPLIERS)
    regions = await db.fetch("SELECT DISTINCT left(ubigeo, 2) AS r FROM organisation WHERE kind = 'agency'")
    assert len(regions) >= 5  # Lima, Cusco, Arequipa, Piura, Loreto, ...

    rucs = [r["ruc"] for r in await db.fetch("SELECT ruc FROM organisation WHERE ruc IS NOT NULL")]
    assert len(rucs) == kinds["oversight"] + kinds["agency"] + kinds["supplier"]
    assert all(ruc_mod.is_valid(r) for r in rucs), rucs

    # Every agency has an officer and committee members; every account logs in with the demo password.
    per_agency = await db.fetch(
        "SELECT o.name, array_agg(DISTINCT r) AS roles FROM organisation o JOIN app_user u ON u.organisation_id = o.id,"
        " unnest(u.roles) r WHERE o.kind = 'agency' AND o.name = ANY($1::text[]) GROUP BY o.name",
        [name for name, _ in seed.AGENCIES])
    assert len(per_agency) == len(seed.AGENCIES)
    assert all({"officer", "committee", "agency_head"} <= set(a["roles"]) for a in per_agency)
    users = await db.fetchrow("SELECT count(*) AS n FROM app_user")
    assert users["n"] >= len(demo.accounts)  # later seeders may add users of their own
    token, _ = await auth.login(email=f"auditor@{seed.DEMO_DOMAIN}", password=seed.DEMO_PASSWORD,
                                secret="x" * 32, ttl_seconds=60)
    assert token

    # The demo's appealed award (Cusco, works estimated at S/ 600,000, above APPEAL_TRIBUNAL_UIT) is on the
    # Tribunal's work list; the agency head's list is empty.
    head = await client.post("/api/v1/auth/token", data={
        "grant_type": "password", "username": f"titular.gore-cusco@{seed.DEMO_DOMAIN}", "password": seed.DEMO_PASSWORD})
    tribunal = await client.post("/api/v1/auth/token", data={
        "grant_type": "password", "username": f"tribunal@{seed.DEMO_DOMAIN}", "password": seed.DEMO_PASSWORD})
    assert head.status_code == tribunal.status_code == 200, (head.text, tribunal.text)
    as_head = {"Authorization": f"Bearer {head.json()['access_token']}"}
    as_tribunal = {"Authorization": f"Bearer {tribunal.json()['access_token']}"}
    above = await client.get("/api/v1/appeals", params={"deciding_body": "tribunal"}, headers=as_tribunal)
    assert above.status_code == 200 and len(above.json()) == 1, above.text
    assert above.json()[0]["deciding_body"] == "tribunal"
    listed = await client.get("/api/v1/appeals", params={"deciding_body": "agency_head"}, headers=as_head)
    assert listed.status_code == 200 and listed.json() == [], listed.text


async def test_demo_seed_is_deterministic_and_a_second_run_is_a_no_op(client, settings):
    first = await seed.seed_demo(settings=settings)
    before = await db.fetch("SELECT kind, name, ruc, ubigeo FROM organisation ORDER BY name")
    assert await seed.seed_demo(settings=settings) is None
    after = await db.fetch("SELECT kind, name, ruc, ubigeo FROM organisation ORDER BY name")
    assert after == before

    await _truncate()  # every table, so that every seeder starts again from nothing
    again = await seed.seed_demo(settings=settings)
    assert await db.fetch("SELECT kind, name, ruc, ubigeo FROM organisation ORDER BY name") == before
    assert [a.email for a in again.accounts] == [a.email for a in first.accounts]


async def test_seed_refuses_a_database_that_has_data(client, settings):
    from tests import factories

    await factories.organisation("agency")
    assert await seed.seed_demo(settings=settings) is None
    assert (await db.fetchrow("SELECT count(*) AS n FROM organisation"))["n"] == 1


async def test_the_demo_publishes_its_open_data_at_seeding(client, settings):
    """A journalist opening a fresh demo finds its OCDS releases and a bulk file to download (issue 18, 6)."""
    shutil.rmtree(publisher.bulk_dir(settings), ignore_errors=True)  # DATA_DIR lives for the whole session
    assert await seed.seed_demo(settings=settings) is not None
    releases = (await db.fetchrow("SELECT count(*) AS n FROM ocds_release"))["n"]
    assert releases >= 10
    listing = (await client.get("/ocds/bulk")).json()
    assert [(b["date"], b["complete"]) for b in listing] == [(datetime.now(UTC).date().isoformat(), False)]
    body = (await client.get(f"/ocds/bulk/{listing[0]['name']}")).content
    assert len(gzip.decompress(body).decode().splitlines()) == releases
    page = await client.get("/datos-abiertos", headers={"Accept-Language": "es"})
    assert listing[0]["name"] in page.text and "hoy hasta ahora" in page.text
