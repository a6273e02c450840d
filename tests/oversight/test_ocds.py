"""OCDS publication: every release, record and package from the demo data validates against the OCDS 1.1
schema with the lots and bids extensions (and the codelists); releases are immutable; the change feed
never skips a release that commits late; records compile; bulk files."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from marketplace.core import db
from marketplace.oversight.ocds import publisher
from tests import waiting
from tests.oversight import helpers

needs_schema = pytest.mark.skipif(
    helpers.schema_dir() is None,
    reason="OCDS schema folder not found: set OCDS_SCHEMA_DIR or provide ../shared/ocds next to the project")


async def _demo(settings) -> None:
    await helpers.seed_demo(settings)
    await helpers.drain()


@needs_schema
async def test_every_demo_release_record_and_package_validates(client, settings):
    await _demo(settings)
    rows = await db.fetch("SELECT release_id, ocid, tags FROM ocds_release ORDER BY seq")
    assert len(rows) >= 10
    tags = {t for r in rows for t in r["tags"]}
    assert {"planning", "tender", "tenderAmendment", "tenderCancellation", "tenderUpdate", "award",
            "awardUpdate", "contract"} <= tags, tags
    # Every release through the API, each in its package.
    for r in rows:
        resp = await client.get(f"/ocds/releases/{r['release_id']}")
        assert resp.status_code == 200
        package = resp.json()
        assert helpers.validate("release-package", package) == []
        assert helpers.validate("release", package["releases"][0]) == []
        assert package["releases"][0]["ocid"] == r["ocid"]
        assert r["ocid"].startswith(settings.ocid_prefix)
    # Every record (with its compiled release) in a record package.
    for ocid in sorted({r["ocid"] for r in rows}):
        resp = await client.get(f"/ocds/records/{ocid}")
        assert resp.status_code == 200
        package = resp.json()
        assert helpers.validate("record-package", package) == [], ocid
        record = package["records"][0]
        assert record["compiledRelease"]["tag"] == ["compiled"]
        assert helpers.validate("release", record["compiledRelease"]) == []
    # The feed, page by page.
    seen: list[str] = []
    since = None

    async def page() -> bool:  # an empty page: the watermark may be held back by other sessions a moment
        nonlocal since
        if len(seen) == len(rows):
            return True
        resp = await client.get("/ocds/releases", params={"limit": 7, **({"since": since} if since else {})})
        package = resp.json()
        if package["releases"]:
            assert helpers.validate("release-package", package) == []
            seen.extend(x["id"] for x in package["releases"])
            since = package["links"]["next"].split("since=")[1].split("&")[0]
        return False

    await waiting.until(page, "the OCDS feed to serve every release")
    assert sorted(seen) == sorted(r["release_id"] for r in rows)


@needs_schema
async def test_release_content_parties_lots_bids_amounts(client, settings):
    await _demo(settings)
    row = await db.fetchrow(
        "SELECT r.data::text AS data FROM ocds_release r JOIN award a ON a.tender_id = r.tender_id"
        " WHERE 'award' = ANY(r.tags) ORDER BY r.seq LIMIT 1")
    release = json.loads(row["data"])
    roles = {role for p in release["parties"] for role in p["roles"]}
    assert {"buyer", "procuringEntity", "tenderer", "supplier"} <= roles
    assert all(p["identifier"]["scheme"] == "PE-RUC" for p in release["parties"])
    lots = {lot["id"] for lot in release["tender"]["lots"]}
    assert all(a["relatedLots"][0] in lots for a in release["awards"])
    bid_ids = {b["id"] for b in release["bids"]["details"]}
    assert all(a["relatedBids"][0] in bid_ids for a in release["awards"])
    award = await db.fetchrow("SELECT value FROM award WHERE id = $1", uuid.UUID(release["awards"][0]["id"]))
    assert release["awards"][0]["value"] == {"amount": award["value"] / 100, "currency": "PEN"}
    assert release["date"].endswith("Z")


async def test_no_release_for_drafts_and_no_bids_before_opening(client, settings):
    await _demo(settings)
    drafts = await db.fetch("SELECT ocid FROM tender WHERE state = 'draft'")
    assert drafts
    assert not await db.fetch("SELECT 1 FROM ocds_release WHERE ocid = ANY($1::text[])", [d["ocid"] for d in drafts])
    for r in await db.fetch("SELECT r.data::text AS data FROM ocds_release r JOIN tender t ON t.id = r.tender_id"
                            " WHERE t.opened_at IS NULL"):
        assert "bids" not in json.loads(r["data"])


async def test_releases_are_immutable(client, settings):
    await _demo(settings)
    with pytest.raises(asyncpg.RaiseError):
        async with db.unit_of_work():
            await db.execute("UPDATE ocds_release SET tags = '{}' WHERE seq = 1")
    with pytest.raises(asyncpg.RaiseError):
        async with db.unit_of_work():
            await db.execute("DELETE FROM ocds_release WHERE seq = 1")


async def test_redelivery_writes_nothing_new(client, settings):
    await _demo(settings)
    before = (await db.fetchrow("SELECT count(*) AS n FROM ocds_release"))["n"]
    async with db.unit_of_work():
        await db.execute("UPDATE outbox_cursor SET last_txid = '0', last_id = 0 WHERE consumer = 'oversight.ocds'")
    await helpers.drain()
    assert (await db.fetchrow("SELECT count(*) AS n FROM ocds_release"))["n"] == before


async def test_feed_never_skips_a_release_that_commits_late(client, settings):
    """Transaction A inserts a release first (lower txid) but commits after B; a reader that polls in
    between must not move its cursor past A's release."""
    url = settings.database_url
    a = await waiting.connect(url)
    b = await waiting.connect(url)
    try:
        ta = a.transaction()
        await ta.start()
        await a.execute("INSERT INTO ocds_release (release_id, ocid, tender_id, tags, date, source_event, data)"
                        " VALUES ('late', 'ocds-x', gen_random_uuid(), '{tender}', now(), 1, '{}')")
        await b.execute("INSERT INTO ocds_release (release_id, ocid, tender_id, tags, date, source_event, data)"
                        " VALUES ('early', 'ocds-x', gen_random_uuid(), '{tender}', now(), 2, '{}')")
        got, cursor = await publisher.feed(since=None, limit=100)
        assert got == []  # 'early' waits behind A, still running
        await ta.commit()
        # Other sessions on this server may hold the watermark back a moment: poll, as a client would.
        got = []

        async def both() -> bool:
            nonlocal cursor
            page, cursor = await publisher.feed(since=cursor, limit=100)
            got.extend(page)
            return len(got) >= 2

        await waiting.until(both, "the feed to serve both releases")
        ids = [r["release_id"] for r in await db.fetch("SELECT release_id FROM ocds_release ORDER BY txid, seq")]
        assert ids == ["late", "early"] and len(got) == 2
    finally:
        await a.close()
        await b.close()


async def test_bad_cursor_and_unknown_ids(client):
    r = await client.get("/ocds/releases", params={"since": "abc"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.since"
    assert (await client.get("/ocds/releases/nope")).status_code == 404
    assert (await client.get("/ocds/records/ocds-nope")).status_code == 404
    assert (await client.get("/ocds/bulk/..%2Fsecret")).status_code == 404


async def test_daily_bulk_files(client, settings, fixed_clock):
    shutil.rmtree(publisher.bulk_dir(settings), ignore_errors=True)  # DATA_DIR lives for the whole session
    await _demo(settings)
    releases = (await db.fetchrow("SELECT count(*) AS n FROM ocds_release"))["n"]

    async def listed() -> list[tuple[str, bool]]:
        return [(x["name"], x["complete"]) for x in (await client.get("/ocds/bulk")).json()]

    async def lines_of(name: str, sha256: str) -> list[str]:
        resp = await client.get(f"/ocds/bulk/{name}")
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/gzip"
        assert hashlib.sha256(resp.content).hexdigest() == sha256
        return gzip.decompress(resp.content).decode().splitlines()

    # Releases were published today (by the database clock): today's file so far, marked incomplete.
    real_now = datetime.now(UTC)
    fixed_clock.set(real_now)
    today, partial = real_now.date(), publisher.bulk_name(real_now.date(), partial=True)
    assert await publisher.write_bulk(settings) == [partial]
    assert await listed() == [(partial, False)]
    sha = (await client.get("/ocds/bulk")).json()[0]["sha256"]
    assert len(await lines_of(partial, sha)) == releases

    # The day over: its final file, never rewritten, replaces the partial one.
    fixed_clock.set(real_now + timedelta(days=1, hours=2))
    written = await publisher.write_bulk(settings)
    assert written == [publisher.bulk_name(today)]
    assert await publisher.write_bulk(settings) == []  # idempotent, and tomorrow has nothing yet
    assert await listed() == [(publisher.bulk_name(today), True)]
    sha = (await client.get("/ocds/bulk")).json()[0]["sha256"]
    lines = await lines_of(written[0], sha)
    assert len(lines) == releases
    assert all(json.loads(x)["ocid"] for x in lines)
    assert (await client.get(f"/ocds/bulk/{partial}")).status_code == 404


@needs_schema
async def test_award_cancellation_and_contract_lifecycle_releases_validate(client, settings, fixed_clock):
    """Beyond the demo: an upheld appeal (awardCancellation), and a contract signed, amended, delivered
    (implementation) and terminated: every release, and the record, validate."""
    from datetime import date

    from marketplace.contracts import service as contracts
    from marketplace.contracts.schemas import (
        AmendmentCreate,
        ContractSign,
        DeliveryCreate,
        GuaranteeCreate,
        MilestoneCreate,
    )
    from marketplace.core.actor import SYSTEM
    from marketplace.core.money import money
    from tenders.awards import service as awards
    from tenders.awards.schemas import AppealCreate, AppealDecisionCreate
    from tests import factories
    from tests.oversight import builder

    officer, committee = await builder.agency(settings)
    a, b = await builder.suppliers(settings, 2)
    t = await builder.Tender(settings, fixed_clock, officer, committee).publish(codes=["30111601", "43211507"])
    await t.bid(a, {0: 1_000_000, 1: 2_000_000})
    await t.bid(b, {0: 1_100_000, 1: 2_100_000})
    await t.open()
    result = await t.award()
    first, second = (lot.award for lot in result.lots)
    head = builder.actor_of(await factories.login(settings, "agency", "agency_head", org_id=officer.org_id),
                            "agency", "agency_head")  # the lot is below 50 UIT: the agency's head decides
    async with db.unit_of_work():
        appeal = await awards.file_appeal(actor=b, award_id=first.id, data=AppealCreate(
            grounds="El postor ganador no acreditó la experiencia requerida."))
        await awards.decide_appeal(actor=head, award_id=first.id, appeal_id=appeal.id,
                                   data=AppealDecisionCreate(decision="upheld", reason="Fundada"))
        c = await contracts.create_from_award(actor=SYSTEM, award_id=second.id, tender_id=t.id,
                                              lot_id=second.lot_id, supplier_org_id=a.org_id,
                                              value_cents=second.value.amount, currency="PEN")
        m = await contracts.add_milestone(actor=officer, contract_id=c.id, data=MilestoneCreate(
            deliverable="Entrega de equipos", due_date=date(2027, 2, 1), amount=second.value))
        await contracts.sign(actor=officer, contract_id=c.id, data=ContractSign(
            period_start=date(2026, 12, 15), period_end=date(2027, 3, 1),
            guarantee=GuaranteeCreate(kind="bank_letter", amount=money(second.value.amount // 10), issuer="Banco",
                                      reference="CF-1", expires_on=date(2027, 6, 1))))
        await contracts.amend(actor=officer, contract_id=c.id, data=AmendmentCreate(
            reason="Ampliación de plazo", new_period_end=date(2027, 4, 1)))
    async with db.unit_of_work():
        d = await contracts.submit_delivery(actor=a, contract_id=c.id, data=DeliveryCreate(milestone_id=m.id))
        await contracts.decide_delivery(actor=officer, contract_id=c.id, delivery_id=d.id, accept=True,
                                        note="Conforme")
        await contracts.terminate(actor=officer, contract_id=c.id, reason="Resolución por mutuo acuerdo")
    await helpers.drain()
    rows = await db.fetch("SELECT release_id, tags FROM ocds_release WHERE tender_id = $1 ORDER BY seq", t.id)
    tags = {x for r in rows for x in r["tags"]}
    assert {"awardCancellation", "contract", "contractUpdate", "contractAmendment", "implementation",
            "contractTermination"} <= tags, tags
    for r in rows:
        package = (await client.get(f"/ocds/releases/{r['release_id']}")).json()
        assert helpers.validate("release-package", package) == [], r["tags"]
    ocid = (await db.fetchrow("SELECT ocid FROM tender WHERE id = $1", t.id))["ocid"]
    package = (await client.get(f"/ocds/records/{ocid}")).json()
    assert helpers.validate("record-package", package) == []
    compiled = package["records"][0]["compiledRelease"]
    assert {x["id"]: x["status"] for x in compiled["awards"]}[str(first.id)] == "cancelled"
    contract = compiled["contracts"][0]
    assert contract["status"] == "terminated" and contract["amendments"][0]["rationale"] == "Ampliación de plazo"
    assert contract["milestones"][0]["status"] == "met"


async def test_odd_ids_and_cursors_are_404_or_422_never_500(client):
    for path in ["/ocds/releases/a%00b", "/ocds/records/x%00y", "/ocds/records/" + "x" * 300]:
        assert (await client.get(path)).status_code == 404, path
    for since in ["99999999999999999999.1", "1.9999999999999999999", "١٢.٣", "1.-2"]:
        assert (await client.get("/ocds/releases", params={"since": since})).status_code == 422, since
    for params in [{"value_min": 10**20}, {"region": "١٢"}, {"classification": "7210\x00"}]:
        assert (await client.get("/api/v1/oversight/awards", params=params)).status_code in (400, 422), params


async def test_feed_pages_follow_transaction_ids_as_numbers(client, settings):
    """Pages of the public feed follow the xid8 order: a page of two ending at txid 11 must not make the
    next page start after 11 while 8 and 9 were never served (text order puts '10' before '8')."""
    for txid in (8, 9, 10, 11):
        async with db.unit_of_work():
            await db.execute("INSERT INTO ocds_release (txid, release_id, ocid, tender_id, tags, date, source_event,"
                             " data) VALUES ($1::text::xid8, $2, 'ocds-x', gen_random_uuid(), '{tender}', now(), 1,"
                             " $3::jsonb)",
                             str(txid), f"r{txid}", f'{{"id": "r{txid}"}}')
    served, cursor = [], None
    for _ in range(4):
        page, cursor = await publisher.feed(since=cursor, limit=2)
        served += [r["id"] for r in page]
    assert served == ["r8", "r9", "r10", "r11"]
