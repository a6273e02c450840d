"""`marketplace redflags`: Cardinal's red-flag indicators and its `prepare` step, on JSON Lines files.

Both read one OCDS compiled release per line, streamed, from a file or standard input ("-"), and need no
database. The settings file is Cardinal's INI (marketplace/oversight/redflags/settings.py).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click

from marketplace.oversight.redflags import settings as settings_mod
from marketplace.oversight.redflags.engine import run as run_engine
from marketplace.oversight.redflags.engine import to_json
from marketplace.oversight.redflags.prepare import Issue, PrepareReport, prepare_lines

_FILE = click.Path(dir_okay=False, allow_dash=True, path_type=Path)


@click.group()
def redflags() -> None:
    """Red flags on OCDS compiled releases, as Open Contracting Partnership's Cardinal computes them."""


@contextmanager
def _open(path: Path) -> Iterator[IO[bytes]]:
    if str(path) == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        yield handle


def _settings(path: Path | None, *, default_all: bool) -> settings_mod.Settings:
    try:
        if path is None:
            return settings_mod.Settings.all_indicators() if default_all else settings_mod.Settings()
        return settings_mod.load(path)
    except settings_mod.SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@redflags.command("run")
@click.argument("file", type=_FILE)
@click.option("--settings", "-s", "settings_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Cardinal's settings file (INI). Without it every indicator runs with its defaults.")
@click.option("--no-meta", is_flag=True, help='Leave out the "Meta" key (the quartiles and fences used).')
@click.option("--count", "-c", is_flag=True, help="Print the number of results per group to standard error.")
def run(file: Path, settings_path: Path | None, no_meta: bool, count: bool) -> None:
    """Compute the red flags of FILE (JSON Lines, one compiled release per line; "-" for standard input).

    Prints Cardinal's output: {"OCID": {ocid: {code: value}}, "Buyer": {...}, "ProcuringEntity": {...},
    "Tenderer": {...}, "Meta": {...}}, with only the groups that have results."""
    settings = _settings(settings_path, default_all=True)
    with _open(file) as handle:
        results, stats = run_engine(handle, settings)
    click.echo(to_json(results, meta=not no_meta))
    if stats.invalid_count:
        shown = ", ".join(str(n) for n in stats.invalid[:10])
        more = "" if stats.invalid_count <= 10 else f" and {stats.invalid_count - 10} more"
        click.echo(f"skipped {stats.invalid_count} lines that are not JSON: {shown}{more}", err=True)
    if count:
        for group, entries in results.groups.items():
            if entries:
                click.echo(f"{group}: {len(entries)}", err=True)


@redflags.command("prepare")
@click.argument("file", type=_FILE)
@click.option("--settings", "-s", "settings_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Cardinal's settings file (INI): [defaults], [redactions], [corrections], [modifications], "
                   "[codelists.bid_status], [codelists.award_status].")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the prepared lines to this file (written aside, then renamed); stdout when omitted.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write what was changed (counts per path, old and new value) and the issues, as JSON.")
def prepare(file: Path, settings_path: Path | None, output: Path | None, report: Path | None) -> None:
    """Correct FILE's compiled releases for the indicators: defaults, codelist remapping, ids, redactions.

    The prepared releases go to standard output (or --output) as JSON Lines; the quality issues go to
    standard error as CSV rows (line number, ocid, path, array indexes, value, description), as Cardinal
    writes them."""
    settings = _settings(settings_path, default_all=False)
    issues = csv.writer(sys.stderr, lineterminator="\n")

    def on_issue(issue: Issue) -> None:
        issues.writerow(issue.row())

    summary = PrepareReport()
    tmp = output.with_name(output.name + ".tmp") if output is not None else None
    try:
        sink = tmp.open("wb") if tmp is not None else sys.stdout.buffer
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc
    try:
        with _open(file) as handle:
            for chunk in prepare_lines(handle, settings.prepare, summary, on_issue=on_issue):
                sink.write(chunk)
        sink.flush()
    finally:
        if tmp is not None:
            sink.close()
    if tmp is not None and output is not None:
        tmp.replace(output)
    if report is not None:
        report.write_text(json.dumps(summary.as_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if output is not None:
        changed = sum(summary.changes.values())
        click.echo(f"{summary.written} releases written to {output}; {changed} values changed", err=True)
