"""`marketplace ocds ...`: import OCDS files, register publishers and their feeds, harvest now.

Heavy modules (the database layer, the importer, httpx) are imported inside the commands: `marketplace --help`
loads every command group, and should stay quick.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from marketplace.core.commands import run_with_database, services, settings_from_env

err = Console(stderr=True)


@click.group()
def ocds() -> None:
    """Imported OCDS: other publishers' contracting processes next to ours."""


@ocds.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--encoding", default=None, help="Encoding of input that is not UTF-8 (e.g. iso-8859-1).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; refused lines and the summary only.")
@click.option("--show-refused", type=int, default=50, show_default=True,
              help="How many refused lines to print (all are counted).")
def import_(paths: tuple[Path, ...], encoding: str | None, quiet: bool, show_refused: int) -> None:
    """Import release packages, record packages, releases or records (JSON, JSON Lines, .gz, .zip, folders).

    Streamed at flat memory. Importing the same data again changes nothing; newer releases update their
    process. A line or release that is not JSON or not OCDS is listed with where it was and why, and skipped."""
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise click.BadParameter(f"unknown encoding {encoding!r}", param_hint="--encoding") from exc
    progress = _RichProgress(quiet=quiet, show_refused=show_refused, paths=paths)
    with services(settings_from_env()) as settings, progress:
        report = run_with_database(settings, lambda: _import_and_project(list(paths), encoding, progress))
    _summary(report, shown=progress.shown)


async def _import_and_project(paths: list[Path], encoding: str | None, progress: Any) -> Any:
    """The import, with the award history and stage times kept up to date as its batches commit."""
    # deferred: CLI start-up time (see the module docstring)
    from marketplace.oversight import projection

    report, _projected = await projection.import_and_project(paths, encoding=encoding, progress=progress)
    return report


class _RichProgress:
    def __init__(self, *, quiet: bool, show_refused: int, paths: tuple[Path, ...]) -> None:
        self.quiet = quiet
        self.show_refused = show_refused
        self.shown = 0
        self.total = sum(_size(p) for p in paths)
        self.done_before = 0  # bytes of the files already finished
        self.current = 0
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                            console=err, transient=False, disable=quiet)
        self.task = self.bar.add_task("importing", total=self.total or None)

    def __enter__(self) -> _RichProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.update(self.task, completed=self.total)
        self.bar.__exit__(*exc)

    def file(self, start: Any) -> None:
        self.done_before += self.current
        self.current = start.size or 0
        self.bar.update(self.task, description=_short(start.name), completed=self.done_before)

    def advance(self, position: int) -> None:
        self.bar.update(self.task, completed=self.done_before + min(position, self.current))

    def skipped(self, start: Any) -> None:
        if not self.quiet:
            self.bar.console.print(f"skipped {start.name}: {start.skipped}", markup=False, highlight=False,
                                   soft_wrap=True)

    def refused(self, refusal: Any) -> None:
        if self.shown < self.show_refused:
            self.shown += 1
            self.bar.console.print(f"[yellow]refused[/yellow] {refusal.where}: {refusal.reason}", markup=True,
                                   highlight=False, soft_wrap=True)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else "..." + name[-(width - 3):]


def _summary(report: Any, *, shown: int) -> None:
    r = report
    click.echo(f"files: {r.files} read, {r.files_skipped} skipped")
    click.echo(f"releases: {r.releases} read, {r.releases_new} new; records: {r.records}")
    click.echo(f"processes: {r.processes_new} new, {r.processes_changed} changed, {r.processes_unchanged} unchanged")
    more = f" ({r.refused - shown} not shown)" if r.refused > shown else ""
    click.echo(f"refused: {r.refused}{more}")


# --- publishers -----------------------------------------------------------------------------------------------

@ocds.group()
def publishers() -> None:
    """OCDS publishers: list them, register one with a feed to harvest."""


@publishers.command("list")
def publishers_list() -> None:
    """Every publisher with its counts, feed and harvest state."""
    # deferred: CLI start-up time (see the module docstring)
    from marketplace.oversight.imports import service

    with services(settings_from_env()) as settings:
        rows = run_with_database(settings, service.list_publishers)
    for p in rows:
        feed = (f" feed={p.feed_kind}:{p.feed_url} next={p.feed_next_at} failures={p.feed_failures}"
                if p.feed_url else "")
        click.echo(f"{p.slug}\t{p.name}\tprefixes={','.join(p.ocid_prefixes)}\tprocesses={p.process_count}"
                   f"\treleases={p.release_count}\tlast_import={p.last_import_at}{feed}")


@publishers.command("add")
@click.option("--name", required=True, help="The publisher's name (as in its packages' `publisher.name`).")
@click.option("--prefix", "prefixes", multiple=True, help="An ocid prefix it publishes under (ocds-xxxxxx); repeat.")
@click.option("--uri", default="", help="The publisher's web address.")
@click.option("--slug", default=None, help="Short handle (default: from the name).")
@click.option("--feed-url", default=None, help="Release package API (links.next pages) or a bulk-file listing.")
@click.option("--feed-kind", type=click.Choice(["api", "bulk"]), default="api", show_default=True)
@click.option("--after-param", default="",
              help="Query parameter of the API that takes the last release date seen (e.g. releasesAfter).")
@click.option("--interval", type=click.IntRange(1, 7 * 24 * 60), default=60, show_default=True,
              help="Minutes between two harvests.")
def publishers_add(name: str, prefixes: tuple[str, ...], uri: str, slug: str | None, feed_url: str | None,
                   feed_kind: str, after_param: str, interval: int) -> None:
    """Register a publisher (or update the one with this slug), optionally with a feed to harvest."""
    # deferred: CLI start-up time (see the module docstring)
    from marketplace.oversight.imports import harvest

    async def go() -> Any:
        # deferred: CLI start-up time (see the module docstring)
        from marketplace.core.db import unit_of_work

        async with unit_of_work():
            return await harvest.register(name=name, prefixes=list(prefixes), uri=uri, slug=slug,
                                          feed_url=feed_url, feed_kind=feed_kind, after_param=after_param,
                                          interval_minutes=interval)

    with services(settings_from_env()) as settings:
        row = run_with_database(settings, go)
    click.echo(f"publisher {row.slug} ({row.name}) registered"
               + (f", harvesting {row.feed_url}" if row.feed_url else ""))


@ocds.command("harvest")
@click.option("--publisher", "slug", default=None, help="Only this publisher (by slug), due or not.")
def harvest_now(slug: str | None) -> None:
    """Harvest the publishers whose feed is due now (or one publisher) and print what came in."""
    # deferred: CLI start-up time (see the module docstring)
    from marketplace.oversight.imports import harvest

    with services(settings_from_env()) as settings:
        results = run_with_database(settings, lambda: harvest.harvest_due(settings, only=slug))
    for r in results:
        click.echo(f"{r.slug}: {r.pages} pages, {r.releases_new} new releases"
                   + (f"; failed: {r.error} (next attempt {r.next_at})" if r.error else ""))
