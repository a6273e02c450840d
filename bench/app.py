"""The production app plus ONE bench-only route: the ceiling of the deadline-rush scenario.

`POST /bench/insert` stores its JSON body's `n` in one row of `bench_ceiling` with a single asyncpg
INSERT from the app's own pool: no auth, no validation beyond msgspec, no transaction block. It lives
only here (granian serves `bench.app:create_bench_app`); marketplace/routes.py never mounts it.
"""

from __future__ import annotations

import msgspec
from litestar import post

from marketplace.app import create_app
from marketplace.core import db

CEILING_TABLE = ("CREATE TABLE IF NOT EXISTS bench_ceiling (id bigserial PRIMARY KEY, n bigint NOT NULL,"
                 " at timestamptz NOT NULL DEFAULT now())")


class CeilingIn(msgspec.Struct):
    n: int


@post("/bench/insert", status_code=201, include_in_schema=False)
async def ceiling_insert(data: CeilingIn) -> dict[str, int]:
    async with db.pool().acquire() as conn:
        row_id = await conn.fetchval("INSERT INTO bench_ceiling (n) VALUES ($1) RETURNING id", data.n)
    return {"id": row_id}


def create_bench_app():
    return create_app(route_handlers=[ceiling_insert])
