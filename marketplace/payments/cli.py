"""`marketplace payments ...`: reconcile this database with Stripe's event log."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from marketplace.core.commands import console, run_with_database, services, settings_from_env


@click.group()
def payments() -> None:
    """Payments through Stripe and the payment ledger."""


@payments.command("reconcile")
@click.option("--limit", type=click.IntRange(1, 10_000), default=1000, show_default=True,
              help="How many of Stripe's most recent events to compare.")
@click.option("--apply", "apply_", is_flag=True, help="Store and apply the events not applied yet.")
def reconcile(limit: int, apply_: bool) -> None:
    """List Stripe events this database never received or has not applied (exit 1 when there are any and
    --apply was not given)."""
    # Imported when the command runs, not when `marketplace` lists its commands (CLI start-up time: the
    # service pulls in stripe and the database layer).
    from marketplace.payments import service

    with services(settings_from_env()) as settings:
        if not settings.stripe_secret_key:
            console.print("STRIPE_SECRET_KEY is not set: nothing to reconcile with.")
            sys.exit(1)
        rows = run_with_database(settings, lambda: service.reconcile(settings=settings, apply=apply_,
                                                                     limit=limit))
    if not rows:
        console.print("Every Stripe event is applied.")
        return
    table = Table("event", "type", "created", "status")
    for row in rows:
        table.add_row(row.id, row.type, str(row.created), row.status)
    console.print(table)
    if apply_:
        console.print(f"{len(rows)} event(s) stored and applied.")
    else:
        console.print(f"{len(rows)} event(s) not applied; run again with --apply to apply them.")
        sys.exit(1)
