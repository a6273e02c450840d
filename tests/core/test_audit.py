"""The audit trail: chained after commit, verified end to end, tampering found, writers never serialised."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from marketplace.core import audit, db
from marketplace.core.actor import SYSTEM, Actor
from tests import factories, waiting

# A writer that waited here would wait for ever: each side holds what the other needs (the test releases the
# first transaction only once the second has written). The timeout turns that hang into a failure; it
# measures nothing, so it is generous.
HANG = 60


async def record(entity_id: str = "t-1", action: str = "tender.updated", data: dict | None = None,
                 actor: Actor = SYSTEM) -> int:
    async with db.unit_of_work():
        await audit.record(actor=actor, action=action, entity_type="tender", entity_id=entity_id,
                           data=data or {})
        row = await db.fetchrow("SELECT max(id) AS id FROM audit_event")
    return row["id"]


async def chain_until(settings, cond, **kw) -> None:
    """Run the chainer until `cond()` holds (chaining waits for every older transaction in the cluster)."""

    async def step() -> bool:
        await audit.chain_pending(settings, **kw)
        return await cond()

    await waiting.until(step, "the audit chainer")


async def all_chained() -> bool:
    row = await db.fetchrow("SELECT count(*) AS n FROM audit_event WHERE seq IS NULL")
    return row["n"] == 0


async def chained(event_id: int) -> bool:
    row = await db.fetchrow("SELECT seq FROM audit_event WHERE id = $1", event_id)
    return row["seq"] is not None


async def superuser():
    return await waiting.connect(db.DB.config["dsn"])


async def tamper(sql: str, *args) -> None:
    """Change chained rows behind the application's back, as a database superuser could."""
    conn = await superuser()
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_immutable")
            await conn.execute(sql, *args)
            await conn.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_immutable")
    finally:
        await conn.close()


async def test_chain_then_verify_ok(client, settings):
    for i in range(3):
        await record(data={"i": i, "name": "Ñuñoa — obra", "amount": 1234567, "rate": 0.18,
                           "nested": {"b": [1, 2, {"z": None}], "a": True}})
    async with db.unit_of_work():  # several events in one transaction
        for i in range(4):
            await audit.record(actor=SYSTEM, action="bid.submitted", entity_type="bid", entity_id=i)
    await chain_until(settings, all_chained)

    report = await audit.verify(settings)
    assert report.ok, report
    assert report.events_checked == 7 and report.head_seq == 7 and report.pending == 0
    assert report.first_broken is None and report.bad_checkpoints == []
    assert report.checkpoints_checked >= 1

    seqs = [r["seq"] for r in await db.fetch("SELECT seq FROM audit_event ORDER BY txid, id")]
    assert seqs == list(range(1, 8))  # gap-free, in commit-safe (txid, id) order

    r = await client.get("/api/v1/audit/verify")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and body["events_checked"] == 7 and body["first_broken"] is None


async def test_chain_order_is_numeric_transaction_order(client, settings):
    """Events are chained in (txid, id) order of the xid8 column: txid 9 before 10, not text order."""
    for txid in (10, 9):
        async with db.unit_of_work():
            await db.execute(
                "INSERT INTO audit_event (txid, occurred_at, action, entity_type, entity_id) VALUES"
                " ($1::text::xid8, now(), 'test.digits', 'test', $1)", str(txid))
    await chain_until(settings, all_chained)
    rows = await db.fetch("SELECT entity_id FROM audit_event ORDER BY seq")
    assert [r["entity_id"] for r in rows] == ["9", "10"]
    assert (await audit.verify(settings)).ok


async def test_a_chained_event_cannot_be_updated_or_deleted(client, settings):
    event_id = await record()
    await chain_until(settings, all_chained)
    with pytest.raises(asyncpg.exceptions.RaiseError, match="immutable"):
        async with db.unit_of_work():
            await db.execute("UPDATE audit_event SET data = '{\"x\": 1}' WHERE id = $1", event_id)
    with pytest.raises(asyncpg.exceptions.RaiseError, match="cannot be deleted"):
        async with db.unit_of_work():
            await db.execute("DELETE FROM audit_event WHERE id = $1", event_id)


async def test_row_altered_in_sql_is_the_first_broken_link(client, settings):
    ids = [await record(entity_id=f"t-{i}", data={"price": 100 + i}) for i in range(5)]
    await chain_until(settings, all_chained)
    assert (await audit.verify(settings)).ok

    victim = await db.fetchrow("SELECT id, seq FROM audit_event WHERE id = $1", ids[2])
    await tamper("UPDATE audit_event SET data = '{\"price\": 1}' WHERE id = $1", victim["id"])

    report = await audit.verify(settings)
    assert not report.ok
    assert report.first_broken is not None
    assert report.first_broken.seq == victim["seq"] and report.first_broken.id == victim["id"]
    assert "hash" in report.first_broken.reason
    assert report.events_checked == 5

    r = await client.get("/api/v1/audit/verify")
    body = r.json()
    assert r.status_code == 200 and body["ok"] is False
    assert body["first_broken"]["seq"] == victim["seq"] and body["first_broken"]["id"] == victim["id"]


async def test_a_deleted_event_is_a_missing_link(client, settings):
    ids = [await record(entity_id=f"t-{i}") for i in range(4)]
    await chain_until(settings, all_chained)
    seq = (await db.fetchrow("SELECT seq FROM audit_event WHERE id = $1", ids[1]))["seq"]
    await tamper("DELETE FROM audit_event WHERE id = $1", ids[1])
    report = await audit.verify(settings)
    assert not report.ok and report.first_broken.seq == seq and "missing" in report.first_broken.reason


async def test_checkpoint_with_a_bad_signature_is_reported(client, settings):
    for i in range(3):
        await record(entity_id=f"t-{i}")
    await chain_until(settings, all_chained, force_checkpoint=True)
    cp = await db.fetchrow("SELECT seq, signature FROM audit_checkpoint ORDER BY seq DESC LIMIT 1")
    assert cp is not None
    forged = audit._b64(settings.keys.signing_private_key().sign(b"something else"))
    async with db.unit_of_work():
        await db.execute("UPDATE audit_checkpoint SET signature = $2 WHERE seq = $1", cp["seq"], forged)

    report = await audit.verify(settings)
    assert not report.ok
    assert report.first_broken is None  # the chain itself is intact
    assert [(b.seq, b.reason) for b in report.bad_checkpoints] == [(cp["seq"], "bad signature")]


async def test_history_rewritten_with_consistent_hashes_fails_the_signed_checkpoint(client, settings):
    ids = [await record(entity_id=f"t-{i}", data={"v": i}) for i in range(4)]
    await chain_until(settings, all_chained, force_checkpoint=True)
    head = (await db.fetchrow("SELECT max(seq) AS s FROM audit_event"))["s"]
    assert await db.fetchrow("SELECT 1 FROM audit_checkpoint WHERE seq = $1", head)

    # Someone with database access rewrites event 2 and recomputes every later hash: links all hold...
    await tamper("UPDATE audit_event SET data = '{\"v\": 99}' WHERE id = $1", ids[1])
    rows = await db.fetch(f"SELECT {audit._EVENT_COLUMNS} FROM audit_event ORDER BY seq")
    prev = audit.GENESIS_HASH
    for row in rows:
        h = audit.event_hash(prev, row)
        await tamper("UPDATE audit_event SET prev_hash = $2, hash = $3 WHERE id = $1", row["id"], prev, h)
        prev = h

    # ...but the signed checkpoint no longer matches the chain.
    report = await audit.verify(settings)
    assert report.first_broken is None
    assert not report.ok
    assert [(b.seq, b.reason) for b in report.bad_checkpoints] == [
        (head, "the checkpoint no longer matches the chain")]


async def test_concurrent_writers_do_not_wait_for_each_other_or_for_the_chainer(client, settings):
    """Two transactions stay open, each writing audit events, while a third holds the chainer's lock:
    nobody blocks (a block would be a deadlock with the test: every step has a timeout)."""
    chainer = await superuser()
    a_wrote, b_wrote, release = asyncio.Event(), asyncio.Event(), asyncio.Event()
    try:
        await chainer.execute("BEGIN")
        assert await chainer.fetchval("SELECT pg_try_advisory_xact_lock($1)", audit.CHAIN_LOCK)

        async def writer(name: str, mine: asyncio.Event, other: asyncio.Event) -> None:
            async with db.unit_of_work():
                for i in range(3):
                    await asyncio.wait_for(
                        audit.record(actor=SYSTEM, action="bid.submitted", entity_type="bid",
                                     entity_id=f"{name}-{i}"), timeout=HANG)
                mine.set()
                await asyncio.wait_for(other.wait(), timeout=HANG)  # both transactions open at once
                await asyncio.wait_for(release.wait(), timeout=HANG)

        ta = asyncio.create_task(writer("a", a_wrote, b_wrote))
        tb = asyncio.create_task(writer("b", b_wrote, a_wrote))
        await asyncio.wait_for(asyncio.gather(a_wrote.wait(), b_wrote.wait()), timeout=HANG)
        # A chainer that finds the lock taken returns at once instead of queueing.
        assert await asyncio.wait_for(audit.chain_pending(settings), timeout=HANG) == 0
        release.set()
        await asyncio.wait_for(asyncio.gather(ta, tb), timeout=HANG)
        await chainer.execute("COMMIT")
    finally:
        await chainer.close()
    await chain_until(settings, all_chained)
    report = await audit.verify(settings)
    assert report.ok and report.events_checked == 6


async def test_two_raw_connections_insert_audit_events_interleaved_without_blocking(client, settings):
    """The same INSERT record() runs, from two open transactions on two raw connections, interleaved:
    each statement returns (a lock wait would never end: the other transaction commits after it)."""
    sql = ("INSERT INTO audit_event (occurred_at, actor_user_id, actor_org_id, action, entity_type, entity_id,"
           " data) VALUES (now(), NULL, NULL, 'bid.submitted', 'bid', $1, '{}'::jsonb)")
    a, b = await superuser(), await superuser()
    try:
        await a.execute("BEGIN")
        await b.execute("BEGIN")
        for i in range(5):
            await asyncio.wait_for(a.execute(sql, f"a-{i}"), timeout=HANG)
            await asyncio.wait_for(b.execute(sql, f"b-{i}"), timeout=HANG)
        await asyncio.wait_for(b.execute("COMMIT"), timeout=HANG)
        await asyncio.wait_for(a.execute("COMMIT"), timeout=HANG)
    finally:
        await a.close()
        await b.close()
    await chain_until(settings, all_chained)
    report = await audit.verify(settings)
    assert report.ok and report.events_checked == 10
    # each transaction's events are contiguous in the chain: order is (txid, id), not arrival
    owners = [r["entity_id"][0] for r in await db.fetch("SELECT entity_id FROM audit_event ORDER BY seq")]
    assert owners in (["a"] * 5 + ["b"] * 5, ["b"] * 5 + ["a"] * 5)


async def test_an_event_committing_late_is_chained_after_it_commits_never_skipped(client, settings):
    first = await record(entity_id="early")
    late_written, commit_late = asyncio.Event(), asyncio.Event()
    late_id: list[int] = []

    async def late() -> None:
        async with db.unit_of_work():
            await audit.record(actor=SYSTEM, action="bid.submitted", entity_type="bid", entity_id="late")
            late_id.append((await db.fetchrow("SELECT max(id) AS id FROM audit_event"))["id"])
            late_written.set()
            await asyncio.wait_for(commit_late.wait(), timeout=waiting.SECONDS + HANG)

    task = asyncio.create_task(late())
    await asyncio.wait_for(late_written.wait(), timeout=HANG)
    after = await record(entity_id="after")  # a later transaction commits first

    await chain_until(settings, lambda: chained(first))
    for _ in range(3):
        await audit.chain_pending(settings)
    assert not await chained(after), "an event was chained past an open, older transaction"

    commit_late.set()
    await task
    await chain_until(settings, all_chained)
    order = [r["id"] for r in await db.fetch("SELECT id FROM audit_event ORDER BY seq")]
    assert order == [first, late_id[0], after]
    assert (await audit.verify(settings)).ok


async def test_checkpoints_every_n_events_signed_and_published(client, settings):
    await record()
    await chain_until(settings, all_chained, checkpoint_every=2)  # the first head is signed at once
    for i in range(5):
        await record(entity_id=f"t-{i}")
        await chain_until(settings, all_chained, checkpoint_every=2)
    seqs = [r["seq"] for r in await db.fetch("SELECT seq FROM audit_checkpoint ORDER BY seq")]
    assert seqs == [1, 3, 5]

    keys = (await client.get("/api/v1/keys")).json()
    assert keys["key_id"] == settings.signing_key_id
    assert keys["public_key"] == settings.keys.signing_public_key_b64()
    assert keys["keys"][0] == {"kid": settings.signing_key_id, "kty": "OKP", "crv": "Ed25519",
                               "x": keys["public_key"], "alg": "EdDSA", "use": "sig"}

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    pub = Ed25519PublicKey.from_public_bytes(audit._unb64(keys["public_key"]))
    page = (await client.get("/api/v1/audit/checkpoints", params={"limit": 2})).json()
    assert [c["seq"] for c in page["items"]] == [1, 3] and page["next_cursor"] == "3"
    assert page["public_key"] == keys["public_key"]
    page2 = (await client.get("/api/v1/audit/checkpoints",
                              params={"limit": 2, "after": page["next_cursor"]})).json()
    assert [c["seq"] for c in page2["items"]] == [5] and page2["next_cursor"] is None
    for c in page["items"] + page2["items"]:
        pub.verify(audit._unb64(c["signature"]), c["message"].encode())  # anyone can check them
        assert f'"hash":"{c["hash"]}"' in c["message"]

    r = await client.get("/api/v1/audit/checkpoints", params={"after": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("after")


async def test_checkpoint_after_t_seconds_even_below_n_events(client, settings, fixed_clock):
    await record()
    await chain_until(settings, all_chained, checkpoint_every=1000, checkpoint_seconds=60)
    await record(entity_id="x")
    await chain_until(settings, all_chained, checkpoint_every=1000, checkpoint_seconds=60)
    assert [r["seq"] for r in await db.fetch("SELECT seq FROM audit_checkpoint")] == [1]
    fixed_clock.advance(seconds=61)
    await audit.chain_pending(settings, checkpoint_every=1000, checkpoint_seconds=60)
    assert [r["seq"] for r in await db.fetch("SELECT seq FROM audit_checkpoint ORDER BY seq")] == [1, 2]


async def test_entity_trail_is_for_oversight_and_platform_only(client, settings):
    officer = await factories.login(settings, "agency", "officer")
    auditor = await factories.login(settings, "oversight", "auditor")
    await record(entity_id="T-9", action="tender.published",
                 actor=Actor(user_id=officer.user_id, org_id=officer.org_id, org_kind="agency",
                             roles=frozenset({"officer"}), via="jwt"))
    await record(entity_id="T-9", action="tender.amended", data={"field": "deadline"})
    await record(entity_id="T-10", action="tender.published")
    await chain_until(settings, all_chained)

    params = {"entity_type": "tender", "entity_id": "T-9"}
    assert (await client.get("/api/v1/audit/events", params=params)).status_code == 401
    assert (await client.get("/api/v1/audit/events", params=params, headers=officer.headers)).status_code == 403

    r = await client.get("/api/v1/audit/events", params={**params, "limit": 1}, headers=auditor.headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [e["action"] for e in page["items"]] == ["tender.published"]
    assert page["items"][0]["actor_org_id"] == str(officer.org_id) and page["items"][0]["hash"]
    r = await client.get("/api/v1/audit/events", params={**params, "after": page["next_cursor"]},
                         headers=auditor.headers)
    assert [(e["action"], e["data"]) for e in r.json()["items"]] == [("tender.amended", {"field": "deadline"})]
    assert r.json()["next_cursor"] is None

    platform = await factories.login(settings, "platform", "admin")
    r = await client.get("/api/v1/audit/events", params={"entity_type": "tender"},
                         headers={**platform.headers, "Accept-Language": "en"})
    assert r.status_code == 422 and r.json()["errors"][0] == {
        "field": "query.entity_id", "rule": "required", "message": "Give the entity's type and id"}
    r = await client.get("/api/v1/audit/events", params={"entity_id": "T-9"},
                         headers={**platform.headers, "Accept-Language": "es-PE"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.entity_type"
    assert r.json()["errors"][0]["message"] == "Indique el tipo y el identificador de la entidad"


async def test_audit_endpoints_are_in_the_openapi_schema(client):
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/api/v1/audit/verify", "/api/v1/audit/checkpoints", "/api/v1/audit/events", "/api/v1/keys"):
        assert "get" in paths[path], path
