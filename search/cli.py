"""`marketplace reindex` and `marketplace search check`: rebuild a search index from PostgreSQL, and compare
one with PostgreSQL (reporting, and with --repair fixing, drift). Both use the configured backend
(SEARCH_BACKEND / MEILI_URL) unless --backend says otherwise."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from marketplace.core.commands import console, err_console, run_with_database, services, settings_from_env
from marketplace.settings import Settings

if TYPE_CHECKING:
    from search.protocol import Kind

KIND_CHOICE = click.Choice(["offers", "tenders", "all"])
BACKEND_CHOICE = click.Choice(["configured", "postgres", "meilisearch"])


def _kinds(kind: str) -> list[Kind]:
    # deferred: CLI start-up time: a command loads only what it runs
    from search.protocol import KINDS

    return [k for k in KINDS if kind in ("all", k)]


def _settings(backend: str) -> Settings:

    settings = settings_from_env()
    return settings if backend == "configured" else replace(settings, search_backend=backend)


@click.command()
@click.option("--kind", type=KIND_CHOICE, default="all", show_default=True, help="Which index to rebuild.")
@click.option("--backend", type=BACKEND_CHOICE, default="configured", show_default=True)
def reindex(kind: str, backend: str) -> None:
    """Rebuild search indexes from PostgreSQL (settings first, then every document, then stale ones out).
    The index keeps answering meanwhile; outbox events wait and are applied afterwards."""
    # deferred: CLI start-up time: a command loads only what it runs
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    # deferred: CLI start-up time: a command loads only what it runs
    from search import service, sync

    with services(_settings(backend)) as settings:
        index = service.make_backend(settings)
        columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console) as bar:
            tasks: dict[str, TaskID] = {}

            def progress(k: str, done: int, total: int | None) -> None:
                if k not in tasks:
                    tasks[k] = bar.add_task(f"{index.name}: {k}", total=total)
                bar.update(tasks[k], completed=done, total=total)

            async def go() -> list[sync.ReindexResult]:
                try:
                    return await sync.reindex(index, _kinds(kind), progress=progress)
                finally:
                    await index.close()

            results = run_with_database(settings, go)
    for r in results:
        console.print(f"{r.kind}: {r.indexed} documents indexed, {r.removed} stale removed")


@click.group()
def search() -> None:
    """Search indexes: check them against PostgreSQL."""


@search.command("check")
@click.option("--kind", type=KIND_CHOICE, default="all", show_default=True)
@click.option("--repair", is_flag=True, help="Write the missing and stale documents, delete the extra ones.")
@click.option("--backend", type=BACKEND_CHOICE, default="configured", show_default=True)
@click.option("--show", default=5, show_default=True, help="Ids to list per kind of drift.")
def search_check(kind: str, repair: bool, backend: str, show: int) -> None:
    """Compare the index with PostgreSQL; exit 1 when drift remains."""
    # deferred: CLI start-up time: a command loads only what it runs
    from rich.table import Table

    # deferred: CLI start-up time: a command loads only what it runs
    from search import service, sync

    with services(_settings(backend)) as settings:
        index = service.make_backend(settings)

        async def go() -> list[sync.Drift]:
            try:
                return await sync.check(index, _kinds(kind), repair=repair)
            finally:
                await index.close()

        with console.status(f"Comparing the {index.name} index with PostgreSQL..."):
            drifts = run_with_database(settings, go)
    table = Table(title=f"search check ({index.name})")
    for col in ("index", "expected", "indexed", "missing", "stale", "extra", "repaired"):
        table.add_column(col)
    for d in drifts:
        table.add_row(d.kind, str(d.expected), str(d.indexed), str(len(d.missing)), str(len(d.stale)),
                      str(len(d.extra)), "yes" if d.repaired else "-")
    console.print(table)
    for d in drifts:
        for label, ids in (("missing", d.missing), ("stale", d.stale), ("extra", d.extra)):
            if ids:
                more = f" (+{len(ids) - show} more)" if len(ids) > show else ""
                console.print(f"{d.kind} {label}: {', '.join(ids[:show])}{more}")
    if any(not d.clean and not d.repaired for d in drifts):
        err_console.print("[red]The index has drifted from PostgreSQL; run with --repair (or reindex).[/red]")
        sys.exit(1)
    console.print("[green]In step with PostgreSQL.[/green]" if all(d.clean for d in drifts)
                  else "[green]Repaired.[/green]")
