"""The migration to English person types rewrites what is stored and the rule that guards it."""

from __future__ import annotations

import importlib

import asyncpg
import pytest

from marketplace.core import db
from tests.factories import make_ruc
from tests.suppliers.factories import registered_supplier

MIGRATION = importlib.import_module("suppliers.migrations.2026_12_05t09_00_00_000001")


async def test_stored_spanish_person_types_become_english_and_stay_so(client, settings):
    company = await registered_supplier(settings, ruc=make_ruc("20"))
    individual = await registered_supplier(settings, ruc=make_ruc("10"))
    async with db.unit_of_work() as uow:
        conn = await uow.connection()
        # the table as it was before the migration: Spanish values under the old rule
        await conn.execute("ALTER TABLE supplier DROP CONSTRAINT supplier_person_type_check")
        await conn.execute("UPDATE supplier SET person_type = CASE organisation_id WHEN $1 THEN 'juridica'"
                           " ELSE 'natural' END", company.org_id)
        await conn.execute("ALTER TABLE supplier ADD CONSTRAINT supplier_person_type_check"
                           " CHECK (person_type IN ('natural', 'juridica'))")
        await conn.execute(MIGRATION.SQL)
        rows = await conn.fetch("SELECT organisation_id, person_type FROM supplier")
        assert {r["organisation_id"]: r["person_type"] for r in rows} == {
            company.org_id: "company", individual.org_id: "individual"}
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE supplier SET person_type = 'juridica' WHERE organisation_id = $1",
                               company.org_id)
        await uow.rollback()


async def test_the_api_speaks_english_person_types(client, settings):
    company = await registered_supplier(settings, ruc=make_ruc("20"))
    individual = await registered_supplier(settings, ruc=make_ruc("10"))
    assert (await client.get(f"/api/v1/suppliers/{company.org_id}")).json()["person_type"] == "company"
    assert (await client.get(f"/api/v1/suppliers/{individual.org_id}")).json()["person_type"] == "individual"
