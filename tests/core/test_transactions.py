"""Transactions by mechanism: writes refuse to run outside a unit of work, the framework opens one per unsafe
request and per job body, a refused request writes nothing, and a client sees 2xx only after the commit."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from litestar import Litestar, post
from litestar.params import JSONBody

from marketplace.core import audit, db, outbox
from marketplace.core.actor import SYSTEM
from marketplace.core.errors import Conflict, exception_handlers
from marketplace.core.tables import Organisation
from marketplace.core.transactions import OWN_TRANSACTION, UnitOfWorkMiddleware, own_transaction, wrap_job
from tests.harness import personas

pytestmark = pytest.mark.usefixtures("client")  # clean tables, the app's pool started


async def _organisations(name: str) -> int:
    row = await db.fetchrow("SELECT count(*) AS n FROM organisation WHERE name = $1", name)
    assert row is not None
    return int(row["n"])


async def _committed_organisations(name: str) -> int:
    """Seen from another session: only what has committed."""
    conn = await asyncpg.connect(db.DB.config["dsn"])
    try:
        return int(await conn.fetchval("SELECT count(*) FROM organisation WHERE name = $1", name))
    finally:
        await conn.close()


async def test_writes_outside_a_unit_of_work_raise_and_write_nothing():
    with pytest.raises(db.NoTransaction, match=r"audit\.record\(\)"):
        await audit.record(actor=SYSTEM, action="test.outside", entity_type="test", entity_id="x")
    with pytest.raises(db.NoTransaction, match=r"outbox\.emit\(\)"):
        await outbox.emit(topic="test.outside", aggregate_type="test", aggregate_id="x")
    with pytest.raises(db.NoTransaction):
        await db.execute("INSERT INTO organisation (id, kind, name) VALUES ($1, 'platform', 'outside')", uuid.uuid4())
    with pytest.raises(db.NoTransaction):  # a write hidden in a data-modifying CTE is a write too
        await db.fetch("WITH o AS (INSERT INTO organisation (id, kind, name) VALUES ($1, 'platform', 'outside')"
                       " RETURNING id) SELECT id FROM o", uuid.uuid4())
    with pytest.raises(db.NoTransaction):  # and so is a piccolo query that writes
        await Organisation.insert(Organisation(id=uuid.uuid4(), kind="platform", name="outside", ubigeo=None)).run()
    assert await _organisations("outside") == 0
    events = await db.fetchrow("SELECT count(*) AS n FROM audit_event WHERE action = 'test.outside'")
    assert events is not None and events["n"] == 0
    # Reads need no transaction.
    assert await db.fetch("SELECT 1 AS one") == [{"one": 1}]


async def test_a_unit_of_work_inside_another_raises_unless_it_asks_to_join():
    async with db.unit_of_work() as outer:
        with pytest.raises(db.NoTransaction, match="join=True"):
            async with db.unit_of_work():
                pass
        async with db.unit_of_work(join=True) as joined:
            assert joined is outer
            await db.execute("INSERT INTO organisation (id, kind, name) VALUES ($1, 'platform', 'joined')",
                             uuid.uuid4())
        assert await _committed_organisations("joined") == 0  # the outer one commits, not the joined block
    assert await _committed_organisations("joined") == 1


async def test_piccolo_queries_run_in_the_unit_of_work():
    org_id = uuid.uuid4()
    with pytest.raises(RuntimeError, match="boom"):
        async with db.unit_of_work():
            await Organisation.insert(Organisation(id=org_id, kind="platform", name="piccolo", ubigeo=None)).run()
            assert await Organisation.count().where(Organisation.id == org_id).run() == 1  # same transaction
            raise RuntimeError("boom")
    assert await Organisation.count().where(Organisation.id == org_id).run() == 0


async def test_a_request_refused_after_writing_leaves_no_row_and_no_audit_event(client, settings):
    """Registering an agency writes its organisation and agency rows before creating the administrator; an
    administrator e-mail already taken is refused at that last step (409). Nothing of it may remain."""
    p = await personas(settings)
    taken = p.officer.email
    body = {"ruc": "20131312955", "name": "Municipalidad de Prueba", "level": "local", "sector": "gobierno local",
            "ubigeo": "080101", "admin": {"email": taken, "password": "una clave muy larga", "full_name": "A B"}}
    r = await client.post("/api/v1/agencies", json=body, headers=p.admin.headers)
    assert r.status_code == 409, r.text
    assert r.json()["field"] == "admin.email"  # the field at fault, at the top of a single-error problem
    assert await _organisations("Municipalidad de Prueba") == 0
    assert await db.fetch("SELECT 1 FROM agency a JOIN organisation o ON o.id = a.organisation_id"
                          " WHERE o.ruc = '20131312955'") == []
    assert await db.fetch("SELECT 1 FROM audit_event WHERE action = 'agency.created'") == []
    # The same request with a free e-mail goes through, and is committed when the client reads the 201.
    body["admin"]["email"] = "nueva.admin@muni.pe"
    r = await client.post("/api/v1/agencies", json=body, headers=p.admin.headers)
    assert r.status_code == 201, r.text
    assert await _committed_organisations("Municipalidad de Prueba") == 1  # committed before the 201 was read


# --- the mechanism alone, on a small app of its own -------------------------------------------------------

@post("/write-then-fail", status_code=201)
async def write_then_fail(data: JSONBody[dict[str, str]]) -> None:
    await db.execute("INSERT INTO organisation (id, kind, name) VALUES ($1, 'platform', $2)", uuid.uuid4(),
                     data["name"])
    await audit.record(actor=SYSTEM, action="test.written", entity_type="test", entity_id=data["name"])
    raise Conflict("refused after writing", field="name", rule="test")


@post("/write", status_code=201)
async def write(data: JSONBody[dict[str, str]]) -> dict[str, str]:
    await db.execute("INSERT INTO organisation (id, kind, name) VALUES ($1, 'platform', $2)", uuid.uuid4(),
                     data["name"])
    return {"name": data["name"]}


@post("/fails-at-commit", status_code=201)
async def fails_at_commit() -> dict[str, str]:
    # A deferred unique constraint is checked at COMMIT: the statements succeed, the commit does not.
    await db.execute("CREATE TEMP TABLE once (x int UNIQUE DEFERRABLE INITIALLY DEFERRED) ON COMMIT DROP")
    await db.execute("INSERT INTO once VALUES (1), (1)")
    return {"answer": "never sent"}


@post("/own", status_code=201, opt=OWN_TRANSACTION)
async def own() -> dict[str, bool]:
    return {"in_unit_of_work": db.in_unit_of_work()}


@pytest.fixture
async def small_app():
    app = Litestar([write_then_fail, write, fails_at_commit, own], middleware=[UnitOfWorkMiddleware()],
                   exception_handlers=exception_handlers)  # type: ignore[arg-type]
    async with LifespanManager(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                       base_url="http://t") as http:
        yield http


async def test_the_framework_rolls_back_a_handler_that_fails_and_commits_one_that_succeeds(small_app):
    r = await small_app.post("/write-then-fail", json={"name": "rolled back"})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert await _organisations("rolled back") == 0
    assert await db.fetch("SELECT 1 FROM audit_event WHERE action = 'test.written'") == []
    r = await small_app.post("/write", json={"name": "committed"})
    assert r.status_code == 201
    assert await _organisations("committed") == 1


async def test_a_commit_that_fails_answers_a_problem_not_the_handlers_2xx(small_app):
    r = await small_app.post("/fails-at-commit")
    assert r.status_code == 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "never sent" not in r.text


async def test_a_handler_marked_own_transaction_gets_none(small_app):
    r = await small_app.post("/own")
    assert r.status_code == 201 and r.json() == {"in_unit_of_work": False}


async def test_a_job_body_runs_in_one_unit_of_work():
    async def job(ctx: dict, name: str, fail: bool) -> None:
        await db.execute("INSERT INTO organisation (id, kind, name) VALUES ($1, 'platform', $2)", uuid.uuid4(),
                         name)
        if fail:
            raise RuntimeError("job failed")

    wrapped = wrap_job(job)
    await wrapped({}, "job committed", False)
    assert await _organisations("job committed") == 1
    with pytest.raises(RuntimeError):
        await wrapped({}, "job rolled back", True)
    assert await _organisations("job rolled back") == 0

    @own_transaction
    async def own_job(ctx: dict) -> bool:
        return db.in_unit_of_work()

    assert wrap_job(own_job) is own_job
    assert await wrap_job(own_job)({}) is False


async def test_every_gathered_job_is_wrapped_or_marked():
    """The worker runs each job body in a unit of work unless the job carries `own_transaction`."""
    from marketplace import worker

    functions, crons = worker.gather()
    for job in [*functions, *crons]:
        coroutine = getattr(job, "coroutine", job)
        assert getattr(coroutine, "own_transaction", False) or hasattr(coroutine, "__wrapped__"), job
