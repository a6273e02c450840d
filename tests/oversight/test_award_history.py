"""Award history: the read model follows the awards; filters, keyset pages that stay correct while awards
arrive, aggregates and concentration, streaming CSV / JSON Lines export, replica reads, bad input."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

from marketplace.core import db
from marketplace.core.db import Engine
from marketplace.oversight import reads
from marketplace.oversight.awards import export
from marketplace.oversight.awards import service as history
from tests.oversight import helpers

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
AG1, AG2 = uuid.UUID(int=1), uuid.UUID(int=2)


async def _insert(n: int, *, start: datetime = T0, agency=AG1, ruc="20100000001", ubigeo="080108",
                  method="simplified_award", category="services", code="72101500", value=100_000,
                  state="consented", step=timedelta(hours=1)) -> list[uuid.UUID]:
    ids = []
    for i in range(n):
        award_id = uuid.uuid4()
        ids.append(award_id)
        async with db.unit_of_work(join=True):  # alone, or inside a caller's transaction
            await db.execute(
                "INSERT INTO award_history (award_id, tender_id, lot_id, ocid, tender_title, lot_title, agency_id,"
                " agency_ruc, agency_name, supplier_id, supplier_ruc, supplier_name, method, category,"
                " classification_scheme, classification_code, delivery_ubigeo, region, province, value, currency,"
                " state, awarded_at) VALUES ($1, $2::uuid, $3, 'ocds-x-' || $2::uuid::text, 'T', 'L', $4::uuid,"
                " '20000000001', 'Agency ' || $4::uuid::text, $5, $6::text, 'Supplier ' || $6::text, $7, $8,"
                " 'UNSPSC', $9, $10::text,"
                " substr($10::text, 1, 2), substr($10::text, 1, 4), $11, 'PEN',"
                " $12, $13)",
                award_id, uuid.uuid4(), uuid.uuid4(), agency, uuid.UUID(int=int(ruc)), ruc, method, category, code,
                ubigeo, value, state, start + step * i)
    return ids


async def test_the_read_model_follows_the_awards(client, settings):
    await helpers.seed_demo(settings)
    await helpers.drain()
    awards = {r["id"]: r for r in await db.fetch("SELECT id, state, value, supplier_id FROM award")}
    rows = {r["award_id"]: r for r in await db.fetch("SELECT * FROM award_history")}
    assert awards and set(awards) == set(rows)
    for award_id, a in awards.items():
        assert rows[award_id]["state"] == a["state"] and rows[award_id]["value"] == a["value"]
    # Over HTTP, filtered by a winner's RUC.
    ruc = next(iter(rows.values()))["supplier_ruc"]
    r = await client.get("/api/v1/oversight/awards", params={"supplier_ruc": ruc})
    assert r.status_code == 200
    items = r.json()["items"]
    assert items and all(x["supplier_ruc"] == ruc for x in items)
    assert len(items) == sum(1 for x in rows.values() if x["supplier_ruc"] == ruc)
    # The other public views answer over the same demo data.
    r = await client.get("/api/v1/oversight/red-flags")
    assert r.status_code == 200 and "next_cursor" in r.json()
    r = await client.get("/api/v1/oversight/stage-times")
    assert r.status_code == 200 and r.json()["items"]
    r = await client.get("/api/v1/oversight/awards/concentration")
    assert r.status_code == 200 and all(0 < float(x["hhi"]) <= 10_000 for x in r.json())
    # A state change reaches the read model through the outbox.
    some = next(iter(awards))
    async with db.unit_of_work():
        await db.execute("UPDATE award SET state = 'cancelled' WHERE id = $1", some)
    async with db.unit_of_work():
        from marketplace.core import outbox

        await outbox.emit(topic="award.cancelled", aggregate_type="award", aggregate_id=some, payload={})
    await helpers.drain()
    assert (await db.fetchrow("SELECT state FROM award_history WHERE award_id = $1", some))["state"] == "cancelled"


async def test_keyset_pages_stay_correct_while_awards_arrive(client):
    original = await _insert(25)
    seen: list[str] = []
    cursor = None
    arrivals = 0
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/api/v1/oversight/awards", params=params)).json()
        seen += [x["award_id"] for x in body["items"]]
        # New awards arrive between pages, newer than everything (and one exactly at the first's time).
        await _insert(3, start=T0 + timedelta(days=30 + arrivals))
        await _insert(1, start=T0 + timedelta(hours=24))
        arrivals += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert set(map(str, original)) <= set(seen)


async def test_filters(client):
    await _insert(3, agency=AG1, ruc="20100000001", ubigeo="080108", method="public_tender", code="72101500",
                  value=50_000)
    await _insert(2, agency=AG2, ruc="20100000002", ubigeo="040101", method="public_contest", category="works",
                  code="30111601", value=900_000, start=T0 + timedelta(days=10))
    await _insert(1, agency=AG2, ruc="20100000002", ubigeo="040305", state="standstill", code="30102204",
                  value=2_000_000, start=T0 + timedelta(days=20))

    async def count(**params) -> int:
        r = await client.get("/api/v1/oversight/awards", params={**params, "limit": 500})
        assert r.status_code == 200, r.text
        return len(r.json()["items"])

    assert await count() == 6
    assert await count(agency_id=str(AG2)) == 3
    assert await count(supplier_ruc="20100000001") == 3
    assert await count(region="04") == 3
    assert await count(province="0403") == 1
    assert await count(method="public_contest") == 2
    assert await count(category="works") == 2
    assert await count(classification="3011") == 2
    assert await count(classification="301") == 3
    assert await count(date_from=(T0 + timedelta(days=5)).isoformat()) == 3
    assert await count(date_to=(T0 + timedelta(days=5)).isoformat()) == 3
    assert await count(value_min=900_000) == 3
    assert await count(value_min=100_000, value_max=1_000_000) == 2
    assert await count(state="standstill") == 1
    assert await count(region="04", state="consented", method="public_contest") == 2


async def test_bad_filters_are_422_naming_the_field(client):
    for params, field in [({"supplier_ruc": "123"}, "query.supplier_ruc"), ({"region": "Lima"}, "query.region"),
                          ({"method": "dedazo"}, "query.method"), ({"state": "won"}, "query.state"),
                          ({"cursor": "not-a-cursor"}, "query.cursor"),
                          ({"value_min": 10, "value_max": 5}, "query.value_max")]:
        r = await client.get("/api/v1/oversight/awards", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["errors"][0]["field"] == field
    r = await client.get("/api/v1/oversight/awards/aggregates", params={"by": "colour"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.by"
    r = await client.get("/api/v1/oversight/awards/export", params={"format": "xlsx"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.format"


async def test_aggregates_and_concentration(client):
    await _insert(3, agency=AG1, ruc="20100000001", value=100_000)  # AG1: one supplier -> HHI 10,000
    await _insert(1, agency=AG2, ruc="20100000001", value=100_000, ubigeo="040101")
    await _insert(1, agency=AG2, ruc="20100000002", value=300_000, ubigeo="040101")
    await _insert(1, agency=AG2, ruc="20100000002", value=999_999, state="cancelled", ubigeo="040101")
    body = (await client.get("/api/v1/oversight/awards/aggregates", params={"by": "supplier"})).json()
    assert body["items"] == [
        {"key": "20100000001", "label": "Supplier 20100000001", "count": 4, "total": 400_000, "currency": "PEN"},
        {"key": "20100000002", "label": "Supplier 20100000002", "count": 1, "total": 300_000, "currency": "PEN"},
    ]
    # An award in dollars is totalled apart: soles and dollars are never added up.
    [usd] = await _insert(1, agency=AG1, ruc="20100000001", value=50_000)
    async with db.unit_of_work():
        await db.execute("UPDATE award_history SET currency = 'USD' WHERE award_id = $1", usd)
    body = (await client.get("/api/v1/oversight/awards/aggregates", params={"by": "supplier"})).json()
    assert [(x["key"], x["currency"], x["total"], x["count"]) for x in body["items"]] == [
        ("20100000001", "PEN", 400_000, 4), ("20100000002", "PEN", 300_000, 1), ("20100000001", "USD", 50_000, 1)]
    rows = (await client.get("/api/v1/oversight/awards/concentration")).json()
    assert {(x["agency_id"], x["currency"]): x["total"] for x in rows} == {
        (str(AG1), "PEN"): 300_000, (str(AG1), "USD"): 50_000, (str(AG2), "PEN"): 400_000}
    async with db.unit_of_work():
        await db.execute("DELETE FROM award_history WHERE award_id = $1", usd)
    body = (await client.get("/api/v1/oversight/awards/aggregates", params={"by": "region"})).json()
    assert {x["key"]: x["total"] for x in body["items"]} == {"08": 300_000, "04": 400_000}
    body = (await client.get("/api/v1/oversight/awards/aggregates", params={"by": "agency"})).json()
    assert {x["key"]: x["count"] for x in body["items"]} == {str(AG1): 3, str(AG2): 2}
    rows = (await client.get("/api/v1/oversight/awards/concentration")).json()
    by_agency = {x["agency_id"]: x for x in rows}
    assert float(by_agency[str(AG1)]["hhi"]) == 10_000
    # AG2: shares 25% and 75% -> 625 + 5625
    assert float(by_agency[str(AG2)]["hhi"]) == 6_250
    assert float(by_agency[str(AG2)]["top_share"]) == 0.75


async def test_export_csv_and_jsonl_stream_every_filtered_row(client):
    await _insert(30, ruc="20100000001", value=12_345)
    await _insert(5, ruc="20100000002")
    r = await client.get("/api/v1/oversight/awards/export", params={"format": "csv", "supplier_ruc": "20100000001"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 30 and {x["supplier_ruc"] for x in rows} == {"20100000001"}
    assert rows[0]["amount"] == "123.45" and rows[0]["value"] == "12345"
    r = await client.get("/api/v1/oversight/awards/export", params={"format": "jsonl"})
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert len(lines) == 35
    times = [x["awarded_at"] for x in lines]
    assert times == sorted(times, reverse=True)
    assert lines[0]["amount"] in ("1000.00", "123.45") and lines[0]["currency"] == "PEN"
    assert datetime.fromisoformat(lines[0]["awarded_at"]).utcoffset() == timedelta(0)
    # Small chunks give the same bytes.
    small = b"".join([c async for c in export.encode(filters=history.Filters(), fmt="jsonl", chunk=100)])
    assert small.decode() == r.text
    # An empty CSV still has its header.
    r = await client.get("/api/v1/oversight/awards/export", params={"supplier_ruc": "20999999999"})
    assert r.text.splitlines()[0].startswith("award_id,")


async def test_reads_go_to_the_replica_when_configured(client, settings):
    await _insert(2)
    replica = Engine(config={"dsn": settings.database_url})
    await replica.start_connection_pool(min_size=1, max_size=2)
    db.DB.extra_nodes = {"replica": replica}
    try:
        assert reads.replica_in_use()
        async with reads.read_connection() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            readonly = await conn.fetchval("SHOW transaction_read_only")
        replica_pids = {c._con.get_server_pid() for c in replica.pool._holders if c._con is not None}
        assert pid in replica_pids and readonly == "on"
        r = await client.get("/api/v1/oversight/awards")
        assert len(r.json()["items"]) == 2
    finally:
        db.DB.extra_nodes = {}
        await replica.close_connection_pool()
    assert not reads.replica_in_use()


async def test_export_keeps_awkward_text_exact(client):
    (award_id,) = await _insert(1)
    title = 'Obra "Puente\\Norte", tramo 1\nsegunda línea; ñandú \t fin'
    async with db.unit_of_work():
        await db.execute("UPDATE award_history SET tender_title = $2 WHERE award_id = $1", award_id, title)
    r = await client.get("/api/v1/oversight/awards/export", params={"format": "jsonl"})
    assert json.loads(r.text.splitlines()[0])["tender_title"] == title
    r = await client.get("/api/v1/oversight/awards/export", params={"format": "csv"})
    assert next(csv.DictReader(io.StringIO(r.text)))["tender_title"] == title


async def test_json_lines_are_the_bytes_row_to_json_gives(client):
    """The export builds each line by concatenation (twice as fast in PostgreSQL); it must be exactly what
    row_to_json() gives for the same row: awkward text, a missing RUC, the time in UTC, the amount."""
    ids = await _insert(3, value=1)
    async with db.unit_of_work():
        await db.execute("UPDATE award_history SET tender_title = $2, supplier_ruc = NULL, value = 987654321"
                         " WHERE award_id = $1", ids[0], 'Obra "Puente\\Norte"\n\t\u00f1and\u00fa \u2028 </script>')
    body = b"".join([c async for c in export.encode(filters=history.Filters(), fmt="jsonl")]).decode()
    got = body.removesuffix("\n").split("\n")  # not splitlines(): U+2028 inside a title is not a line end
    async with db.unit_of_work():
        await db.execute("SET LOCAL TimeZone = 'UTC'")
        expected = [r["j"] for r in await db.fetch(
            "SELECT row_to_json(x)::text AS j FROM (SELECT "
            + ", ".join("rtrim(currency) AS currency" if c == "currency" else c for c in history.COLUMNS)
            + ", (value / 100.0)::numeric(20, 2)::text AS amount FROM award_history"
            " ORDER BY awarded_at DESC, award_id DESC) x")]
    assert got == expected and len(got) == 3
    assert json.loads(got[-1])["supplier_ruc"] is None and json.loads(got[-1])["amount"] == "9876543.21"


async def test_an_abandoned_export_stops_the_copy_and_frees_its_connection(client):
    await _insert(3000)
    gen = export.encode(filters=history.Filters(), fmt="csv", chunk=1000)
    first = await gen.__anext__()
    assert first.startswith(b"award_id,")
    await gen.aclose()  # what the server does when the client goes away
    busy = await db.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                          " AND query LIKE 'COPY (SELECT%' AND state = 'active'")
    assert busy == []
    # The pool is whole again: as many exports as connections still run to the end.
    for _ in range(3):
        body = b"".join([c async for c in export.encode(filters=history.Filters(), fmt="jsonl")])
        assert body.count(b"\n") == 3000
