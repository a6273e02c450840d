"""The migrations to the English codes (issue 14, "One API vocabulary") convert rows stored with the Spanish
ones and swap the CHECK constraints, on the tables as the earlier migrations created them.

Run in a scratch schema of the test database (search_path set to it alone), inside a transaction that is
rolled back: the migrated test database itself already has the new codes.

vocab-rename: keep (this file writes the old codes on purpose; /work/tools/vocab_rename.py leaves it alone)
"""

from __future__ import annotations

import importlib

import asyncpg
import pytest

OLD_TABLES = r"""
CREATE TABLE tender (id serial PRIMARY KEY, method varchar(32) NOT NULL CHECK (method IN ('licitacion_publica',
    'concurso_publico', 'adjudicacion_simplificada', 'subasta_inversa_electronica', 'comparacion_precios',
    'contratacion_directa')));
CREATE TABLE search_tender (id serial PRIMARY KEY, method text NOT NULL DEFAULT '');
CREATE TABLE award_history (id serial PRIMARY KEY, method varchar(32) NOT NULL);
CREATE TABLE score_sheet (id serial PRIMARY KEY,
    outcome varchar(16) NOT NULL CHECK (outcome IN ('awarded', 'desierto')), sheet jsonb NOT NULL);
INSERT INTO tender (method) VALUES ('licitacion_publica'), ('concurso_publico'), ('adjudicacion_simplificada'),
    ('subasta_inversa_electronica'), ('comparacion_precios'), ('contratacion_directa');
INSERT INTO search_tender (method) VALUES ('subasta_inversa_electronica'), ('');
INSERT INTO award_history (method) VALUES ('comparacion_precios');
INSERT INTO score_sheet (outcome, sheet) VALUES ('desierto', '{"desierto_reason": "no valid bid", "rank": 1}'),
    ('awarded', '{"desierto_reason": null}');
"""

MIGRATIONS = ("tenders.migrations.2026_12_07t18_00_00_000000",
              "tenders.evaluation.migrations.2026_12_07t18_00_10_000000")


async def test_stored_codes_and_checks_become_english(database):
    conn = await asyncpg.connect(database)
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("CREATE SCHEMA vocab_check; SET LOCAL search_path TO vocab_check")
            await conn.execute(OLD_TABLES)
            for name in MIGRATIONS:
                await conn.execute(importlib.import_module(name).SQL)
            assert [r["method"] for r in await conn.fetch("SELECT method FROM tender ORDER BY id")] == [
                "public_tender", "public_contest", "simplified_award", "reverse_auction", "price_comparison",
                "direct_contracting"]
            assert [r["method"] for r in await conn.fetch("SELECT method FROM search_tender ORDER BY id")] == [
                "reverse_auction", ""]
            assert await conn.fetchval("SELECT method FROM award_history") == "price_comparison"
            sheets = await conn.fetch("SELECT outcome, sheet::text AS sheet FROM score_sheet ORDER BY id")
            assert [s["outcome"] for s in sheets] == ["unsuccessful", "awarded"]
            assert "desierto" not in sheets[0]["sheet"]
            assert '"unsuccessful_reason": "no valid bid"' in sheets[0]["sheet"]
            # The new constraints refuse the old codes and take the new ones.
            with pytest.raises(asyncpg.CheckViolationError):
                async with conn.transaction():
                    await conn.execute("INSERT INTO tender (method) VALUES ('licitacion_publica')")
            with pytest.raises(asyncpg.CheckViolationError):
                async with conn.transaction():
                    await conn.execute("INSERT INTO score_sheet (outcome, sheet) VALUES ('desierto', '{}')")
            await conn.execute("INSERT INTO score_sheet (outcome, sheet) VALUES ('unsuccessful', '{}')")
        finally:
            await tx.rollback()
    finally:
        await conn.close()
