"""Running migrations: piccolo's migration runner over every app, under an advisory lock.

Migrations in this project are SQL scripts (see DESIGN.md: piccolo's auto migrations mis-declare GIN
indexes and cannot express partial indexes, checks or xid8 columns). A migration module builds its
MigrationManager with `sql_migration(ID, app, description, SQL)`.
"""

from __future__ import annotations

import contextlib
import io

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.apps.migrations.commands.forwards import run_forwards

from marketplace.core.db import DB, autocommit_writes

MIGRATION_LOCK = 7_300_001  # advisory lock key: one migrator at a time


async def run_script(sql: str) -> None:
    """Run a multi-statement SQL script in the migration's transaction (simple query protocol)."""
    tx = DB.current_transaction.get()
    if tx is not None:
        await tx.connection.execute(sql)
        return
    conn = await DB.get_new_connection()
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def sql_migration(migration_id: str, app_name: str, description: str, sql: str) -> MigrationManager:
    manager = MigrationManager(migration_id=migration_id, app_name=app_name, description=description)

    async def run() -> None:
        await run_script(sql)

    manager.add_raw(run)
    return manager


async def migrate_all(*, quiet: bool = True) -> None:
    """Apply every app's pending migrations, in dependency order. Safe to call from several processes."""


    conn = await DB.get_new_connection()
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext(), autocommit_writes():
            result = await run_forwards(app_name="all")
        if not result.success:
            raise RuntimeError(f"migration failed: {result.message}\n{sink.getvalue()}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        await conn.close()
