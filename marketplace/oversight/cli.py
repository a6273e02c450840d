"""`marketplace export`: the award history as CSV or JSON Lines, to a file or stdout, streamed (flat memory)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import click

from marketplace.core.commands import services, settings_from_env
from marketplace.settings import Settings


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (written aside, then renamed); stdout when omitted.")
@click.option("--agency-id", type=click.UUID, default=None)
@click.option("--supplier-ruc", default=None)
@click.option("--region", default=None, help="2-digit ubigeo prefix of the place of delivery")
@click.option("--province", default=None, help="4-digit ubigeo prefix of the place of delivery")
@click.option("--method", default=None)
@click.option("--category", default=None)
@click.option("--classification", default=None, help="classification code prefix")
@click.option("--from", "date_from", type=click.DateTime(), default=None, help="awarded on or after (UTC)")
@click.option("--to", "date_to", type=click.DateTime(), default=None, help="awarded before (UTC)")
@click.option("--min-value", type=int, default=None, help="céntimos")
@click.option("--max-value", type=int, default=None, help="céntimos")
@click.option("--state", default=None)
def export(fmt: str, output: Path | None, agency_id: UUID | None, supplier_ruc: str | None, region: str | None,
           province: str | None, method: str | None, category: str | None, classification: str | None,
           date_from: datetime | None, date_to: datetime | None, min_value: int | None, max_value: int | None,
           state: str | None) -> None:
    """Export the award history (the same filters as GET /api/v1/oversight/awards/export)."""
    # deferred: CLI start-up time (`marketplace --help` loads every command; the database layer is heavy)
    from marketplace.core import db
    from marketplace.oversight.awards import export as exporter
    from marketplace.oversight.awards.service import Filters

    def utc(value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    filters = Filters(agency_id=agency_id, supplier_ruc=supplier_ruc, region=region, province=province,
                      method=method, category=category, classification=classification, date_from=utc(date_from),
                      date_to=utc(date_to), value_min=min_value, value_max=max_value, state=state)
    filters.check()

    async def go(settings: Settings) -> int:
        assert settings.database_url  # services() starts an embedded PostgreSQL when none is configured
        await db.start(settings.database_url, min_size=1, max_size=2, replica_url=settings.database_replica_url)
        tmp = output.with_suffix(output.suffix + ".tmp") if output else None
        sink = tmp.open("wb") if tmp else sys.stdout.buffer
        n = 0
        try:
            async for chunk in exporter.encode(filters=filters, fmt=fmt):
                sink.write(chunk)
                n += chunk.count(b"\n")
            sink.flush()
        finally:
            if tmp:
                sink.close()
            await db.stop()
        if tmp and output:
            tmp.replace(output)
        return n - (1 if fmt == "csv" else 0)

    with services(settings_from_env()) as settings:
        rows = asyncio.run(go(settings))
    if output:
        click.echo(f"{rows} awards written to {output}", err=True)
