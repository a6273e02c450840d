"""What every command of `marketplace` needs, whichever package it lives in: the settings, the database
(the configured one, or the embedded server in DATA_DIR), a connection pool on a fresh event loop, and the
consoles. marketplace/cli.py and each domain's cli.py import it; it imports no domain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TypeVar

from rich.console import Console

from marketplace.settings import Settings, load_settings

EMBEDDED_DATABASE = "marketplace"  # database name inside the embedded server

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


def settings_from_env() -> Settings:
    return load_settings()


@contextmanager
def services(settings: Settings, *, redis: bool = False) -> Iterator[Settings]:
    """`settings` with DATABASE_URL (and REDIS_URL when `redis`) filled by embedded servers when unset.
    The embedded servers this process started or joined are left (the last holder stops them) on exit."""
    from marketplace import embedded  # imported when a command runs, not for `--help` (start-up time)

    try:
        if settings.embedded_database:
            with console.status("Starting the embedded PostgreSQL..."):
                admin = embedded.start_postgres(settings.data_dir / "postgres")
                url = asyncio.run(embedded.ensure_database(admin, EMBEDDED_DATABASE))
            settings = replace(settings, database_url=url)
        if redis and settings.embedded_redis:
            with console.status("Starting the embedded Redis..."):
                settings = replace(settings, redis_url=embedded.start_redis(settings.data_dir / "redis"))
        yield settings
    finally:
        embedded.stop_all()


def run_with_database(settings: Settings, fn: Callable[[], Awaitable[T]]) -> T:
    """Run `fn` on a fresh event loop with the connection pool open on settings.database_url."""
    from marketplace.core import db  # imported when a command runs, not for `--help` (start-up time)

    async def go() -> T:
        assert settings.database_url
        await db.start(settings.database_url, min_size=1, max_size=4, replica_url=None)
        try:
            return await fn()
        finally:
            await db.stop()

    return asyncio.run(go())
