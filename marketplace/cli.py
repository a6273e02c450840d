"""`marketplace`: the command line (serve, worker, migrate, seed, users, audit, keys).

Adding a command is ONE line in COMMANDS: its name and the "module:attribute" of a click command or
group, which may live in any package (`"reindex": "search.cli:reindex"`). A command is imported only when
it runs (or when --help lists it).

Commands that need the database use DATABASE_URL; with none set they start (or join) the embedded
PostgreSQL in DATA_DIR, as `serve` does, so `marketplace users create` works on the `make run` database.
Every expected failure prints one line and exits with status 1.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
from dataclasses import replace
from typing import Any

import click

from marketplace.core.commands import console, err_console, run_with_database, services, settings_from_env
from marketplace.settings import Settings, SettingsError

# name -> "module:attribute" of a click command or group. One line per command.
COMMANDS: dict[str, str] = {
    "serve": "marketplace.cli:serve",
    "worker": "marketplace.cli:worker",
    "migrate": "marketplace.cli:migrate",
    "seed": "marketplace.cli:seed",
    "users": "marketplace.cli:users",
    "audit": "marketplace.cli:audit",
    "keys": "marketplace.cli:keys",
    "reindex": "search.cli:reindex",
    "search": "search.cli:search",
    "payments": "marketplace.payments.cli:payments",
    "export": "marketplace.oversight.cli:export",
    "redflags": "marketplace.oversight.redflags.cli:redflags",
    "ocds": "marketplace.oversight.imports.cli:ocds",
}



class LazyGroup(click.Group):
    """A group whose commands are listed in COMMANDS and imported when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        ref = COMMANDS.get(cmd_name)
        if ref is None:
            return None
        module, _, attr = ref.partition(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"COMMANDS[{cmd_name!r}] = {ref!r} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        # deferred: CLI start-up time: a command loads only what it runs
        from marketplace.core.errors import DomainError
        from marketplace.embedded import EmbeddedError

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except (SettingsError, EmbeddedError, ConnectionError) as exc:
            raise click.ClickException(str(exc)) from exc
        except DomainError as exc:
            raise click.ClickException(_domain_message(exc)) from exc
        except (RuntimeError, OSError) as exc:  # db.start and the migrator raise these with a clear message
            raise click.ClickException(_one_line(exc)) from exc
        except Exception as exc:
            # deferred: CLI start-up time: a command loads only what it runs
            import asyncpg

            if isinstance(exc, asyncpg.PostgresError):
                raise click.ClickException(f"PostgreSQL: {_one_line(exc)}") from exc
            raise


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _domain_message(exc: Any) -> str:
    from marketplace.core import i18n  # only when a command failed (start-up time)

    try:
        text = i18n.gettext(exc.detail or exc.title, i18n.SOURCE, **exc.params)
    except (KeyError, IndexError, ValueError, AttributeError):
        text = str(exc)
    return f"{text} ({exc.field}: {exc.rule})" if getattr(exc, "field", None) else text


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Mercado Abierto: open e-procurement marketplace."""


def main() -> None:
    cli(prog_name="marketplace")


# ------------------------------------------------------------------------------------------ helpers


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


async def _migrate() -> None:
    # deferred: CLI start-up time: a command loads only what it runs
    from marketplace.core.migrate import migrate_all

    await migrate_all()


def _print_demo(demo: Any) -> None:
    """One example account per role set (the full list can run to hundreds), and the shared password."""
    examples: dict[tuple[str, ...], list[Any]] = {}
    for account in demo.accounts:
        examples.setdefault(tuple(account.roles), []).append(account)
    console.print(f"[bold]Demo data[/bold]: {len(demo.accounts)} accounts, all with the password "
                  f"[bold]{demo.password}[/bold]; for example:")
    for roles, accounts in examples.items():  # plain lines: a table would crop emails on a narrow terminal
        click.echo(f"  {', '.join(roles) + f' ({len(accounts)})':<28} {accounts[0].email}")


# ---------------------------------------------------------------------------------------------- serve


@click.command()
@click.option("--workers", type=click.IntRange(min=1), default=None, show_default="WEB_CONCURRENCY, 1",
              help="HTTP worker processes.")
@click.option("--no-seed", is_flag=True, help="Do not add the demo data to an empty database.")
def serve(workers: int | None, no_seed: bool) -> None:
    """Migrate, add demo data to an empty database, and serve HTTP on HOST:PORT (granian).

    With no DATABASE_URL an embedded PostgreSQL runs, with no REDIS_URL an embedded Redis, both keeping
    their data in DATA_DIR; in that mode the job worker runs inside the app process."""
    settings = settings_from_env()
    if not _port_free(settings.host, settings.port):
        raise click.ClickException(f"cannot listen on {settings.host}:{settings.port}: the port is in use "
                                   "(set PORT to another one)")
    embedded_mode = settings.embedded_database or settings.embedded_redis
    with services(settings, redis=True) as settings:
        if embedded_mode:
            settings = replace(settings, run_worker_in_process=True)

        async def prepare() -> Any:
            # deferred: CLI start-up time: a command loads only what it runs
            from marketplace import seed as seed_mod

            await _migrate()
            if no_seed or settings.production:
                return None
            return await seed_mod.seed_demo(settings=settings)

        try:
            with console.status("Migrating the database..."):
                demo = run_with_database(settings, prepare)
        except Exception as exc:  # one clear line, not a traceback
            raise click.ClickException(f"could not prepare the database: {type(exc).__name__}: "
                                       f"{_one_line(exc)}") from exc
        if demo is not None:
            _print_demo(demo)
        # The HTTP workers are separate processes that read the same environment.
        os.environ.update({
            "DATABASE_URL": settings.database_url or "",
            "REDIS_URL": settings.redis_url or "",
            "DATA_DIR": str(settings.data_dir),
            "RUN_WORKER_IN_PROCESS": "1" if settings.run_worker_in_process else "0",
        })
        mode = "embedded PostgreSQL and Redis" if embedded_mode else "external PostgreSQL and Redis"
        console.print(f"Mercado Abierto on http://{settings.host}:{settings.port} ({settings.mode}, {mode}); "
                      "Ctrl-C stops it")
        _serve_http(settings, workers or settings.web_concurrency)


def _serve_http(settings: Settings, workers: int) -> None:
    # deferred: CLI start-up time: a command loads only what it runs
    from granian import Granian
    from granian.constants import Interfaces

    server = Granian(
        "marketplace.app:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=max(1, workers),
        workers_kill_timeout=30,  # then a worker that will not stop is killed, and shutdown goes on
    )
    try:
        server.serve()
    except SystemExit as exc:
        if exc.code:
            raise click.ClickException("the server stopped: the application failed (see the log above)") from None


# --------------------------------------------------------------------------------------------- worker


@click.command()
def worker() -> None:
    """Run the job worker (outbox drain, sweepers, audit chaining) until SIGINT or SIGTERM.

    Needs DATABASE_URL and REDIS_URL: in embedded mode `marketplace serve` runs the worker itself."""
    # deferred: CLI start-up time: a command loads only what it runs
    from marketplace import worker as worker_mod

    settings = settings_from_env()
    if settings.embedded_redis:
        raise click.ClickException("REDIS_URL is not set: without it `marketplace serve` runs the worker itself")
    with services(settings) as settings:
        worker_mod.run(settings)


# -------------------------------------------------------------------------------------------- migrate


@click.command()
def migrate() -> None:
    """Apply every pending migration (safe to run from several processes at once)."""
    with services(settings_from_env()) as settings, console.status("Migrating..."):
        run_with_database(settings, _migrate)
    console.print("Database schema is up to date.")


# ----------------------------------------------------------------------------------------------- seed


@click.command()
@click.option("--demo", "demo_flag", is_flag=True, help="Add the demo dataset (the only one).")
@click.option("--seed", "seed_value", type=int, default=2026, show_default=True, help="Random seed.")
def seed(demo_flag: bool, seed_value: int) -> None:
    """Fill an EMPTY database with demo data (does nothing on a database that has data)."""
    if not demo_flag:
        raise click.UsageError("say --demo: it is the only dataset")
    # deferred: CLI start-up time: a command loads only what it runs
    from marketplace import seed as seed_mod

    with services(settings_from_env()) as settings:

        async def go() -> Any:
            await _migrate()
            return await seed_mod.seed_demo(settings=settings, seed=seed_value)

        with console.status("Seeding..."):
            demo = run_with_database(settings, go)
    if demo is None:
        console.print("The database already has data: nothing seeded.")
        return
    _print_demo(demo)


# ---------------------------------------------------------------------------------------------- users


@click.group()
def users() -> None:
    """Accounts."""


@users.command("create")
@click.option("--org-kind", type=click.Choice(["agency", "supplier", "oversight", "platform"]), required=True)
@click.option("--org-name", required=True, help="Organisation name; an existing one (same kind) is reused.")
@click.option("--ruc", default=None, help="The organisation's RUC (11 digits, checked).")
@click.option("--ubigeo", default=None, help="The organisation's seat (6-digit INEI ubigeo).")
@click.option("--email", required=True)
@click.option("--full-name", default="")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted for when not given (at least 10 characters).")
@click.option("--roles", required=True, help="Comma-separated, e.g. officer,committee (admin for platform).")
def users_create(org_kind: str, org_name: str, ruc: str | None, ubigeo: str | None, email: str,
                 full_name: str, password: str, roles: str) -> None:
    """Create a user, and its organisation unless one of that kind and name (or RUC) exists."""
    # deferred: CLI start-up time: a command loads only what it runs
    from stdnum.pe import ruc as ruc_mod

    # deferred: CLI start-up time: a command loads only what it runs
    from marketplace.core import db
    from marketplace.core.auth import service as auth

    if ruc is not None and not ruc_mod.is_valid(ruc):
        raise click.BadParameter("not a valid RUC (11 digits with a correct check digit)", param_hint="--ruc")
    role_list = [r.strip() for r in roles.split(",") if r.strip()]

    async def go() -> tuple[Any, Any, bool]:
        async with db.unit_of_work():
            found = await db.fetchrow(
                "SELECT id FROM organisation WHERE kind = $1 AND (ruc = $2 OR ($2::text IS NULL AND name = $3))"
                " ORDER BY created_at LIMIT 1", org_kind, ruc, org_name)
            org_id = found["id"] if found else await auth.create_organisation(
                kind=org_kind, name=org_name, ruc=ruc, ubigeo=ubigeo)
            user_id = await auth.create_user(organisation_id=org_id, email=email, password=password,
                                             roles=role_list, full_name=full_name)
        return org_id, user_id, found is None

    with services(settings_from_env()) as settings:
        org_id, user_id, new_org = run_with_database(settings, go)
    console.print(f"{'Created' if new_org else 'Found'} organisation {org_name} ({org_id}); "
                  f"created user {email} ({user_id}) with roles {', '.join(role_list)}.")


# ---------------------------------------------------------------------------------------------- audit


@click.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Chain pending events, then check every link and signed checkpoint; exit 1 at the first broken link."""
    # deferred: CLI start-up time: a command loads only what it runs
    from marketplace.core import audit as audit_mod

    with services(settings_from_env()) as settings, console.status("Verifying the audit trail..."):
        report = run_with_database(settings, lambda: audit_mod.verify(settings, chain=True))
    console.print(f"events checked: {report.events_checked}; head seq: {report.head_seq}; "
                  f"checkpoints checked: {report.checkpoints_checked}; pending: {report.pending}")
    for bad in report.bad_checkpoints:
        err_console.print(f"[red]bad checkpoint at seq {bad.seq} ({bad.key_id}): {bad.reason}[/red]")
    if report.first_broken is not None:
        b = report.first_broken
        err_console.print(f"[red]first broken link: seq {b.seq} (event id {b.id}): {b.reason}[/red]")
    if not report.ok:
        sys.exit(1)
    if report.pending:
        console.print(f"{report.pending} recent events are not chained yet (a transaction older than them is "
                      "still open somewhere in the database); run again to check them.")
    console.print("[green]The audit trail is intact.[/green]")


# ----------------------------------------------------------------------------------------------- keys


@click.group()
def keys() -> None:
    """Secret keys."""


@keys.command("generate")
def keys_generate() -> None:
    """Print new production keys as environment lines (JWT_SECRET, SIGNING_KEY, SEALING_KEY)."""
    # deferred: CLI start-up time: a command loads only what it runs
    import secrets

    # deferred: CLI start-up time: a command loads only what it runs
    from marketplace.settings import Keys

    fresh = Keys.generate()
    click.echo(f"JWT_SECRET={secrets.token_urlsafe(48)}")
    click.echo(f"SIGNING_KEY={fresh.signing_key}")
    click.echo(f"SEALING_KEY={fresh.sealing_key}")
    click.echo(f"# SIGNING_KEY's public key (publish it to verify receipts and checkpoints): "
               f"{fresh.signing_public_key_b64()}")


if __name__ == "__main__":
    main()
