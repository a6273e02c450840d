"""Settings: every variable parsed and checked at start-up (one line naming the variable and the rule, through
every command); production refuses to start without real secrets; development makes and keeps its own keys."""

from __future__ import annotations

import os
import re
import secrets
import stat
import subprocess
import sys
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from marketplace.cli import cli
from marketplace.core import i18n
from marketplace.oversight import policy as oversight
from marketplace.settings import (
    COMPETITIVE_METHODS,
    LANGUAGES,
    METHODS,
    STAGES,
    FrozenMap,
    SettingsError,
    _b64,
    load_settings,
    override,
    variables,
)
from tenders.domain import Method
from tests.conftest import ROOT


def real_keys() -> dict[str, str]:
    raw = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return {"JWT_SECRET": secrets.token_urlsafe(48), "SIGNING_KEY": _b64(raw),
            "SEALING_KEY": _b64(secrets.token_bytes(32))}


def production(tmp_path, **over: str) -> dict[str, str]:
    env = {"MODE": "production", "DATABASE_URL": "postgresql://app:pw@db:5432/app",
           "REDIS_URL": "redis://redis:6379/0", "DATA_DIR": str(tmp_path), **real_keys()}
    env.update(over)
    return {k: v for k, v in env.items() if v is not None}


def test_production_starts_with_real_keys(tmp_path):
    s = load_settings(production(tmp_path, STRIPE_SECRET_KEY="sk_live_abc"))
    assert s.production and s.keys.jwt_secret and not (tmp_path / "dev-keys.json").exists()
    assert "sk_live" not in repr(s) and s.keys.jwt_secret not in repr(s)  # secrets never in logs


def test_production_refuses_missing_keys_and_names_them(tmp_path):
    env = production(tmp_path)
    del env["SIGNING_KEY"], env["SEALING_KEY"]
    with pytest.raises(SettingsError) as err:
        load_settings(env)
    assert "SIGNING_KEY" in str(err.value) and "SEALING_KEY" in str(err.value)
    assert "JWT_SECRET" not in str(err.value).split("missing:")[1]
    assert not (tmp_path / "dev-keys.json").exists()  # production never generates keys


def test_production_refuses_development_keys(tmp_path):
    dev = load_settings({"DATA_DIR": str(tmp_path)})  # development: generates keys, marked as such
    env = production(tmp_path, JWT_SECRET=dev.keys.jwt_secret, SIGNING_KEY=dev.keys.signing_key,
                     SEALING_KEY=dev.keys.sealing_key)
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        load_settings(env)


@pytest.mark.parametrize("over, complaint", [
    ({"JWT_SECRET": "short"}, "JWT_SECRET"),
    ({"SIGNING_KEY": "bm90LWEta2V5"}, "SIGNING_KEY"),
    ({"SEALING_KEY": _b64(b"16 bytes only!!!")}, "SEALING_KEY"),
    ({"STRIPE_SECRET_KEY": "sk_test_51abc"}, "STRIPE_SECRET_KEY is a test key"),
    ({"DATABASE_URL": None}, "DATABASE_URL"),
    ({"REDIS_URL": None}, "REDIS_URL"),
    ({"MODE": "staging"}, "MODE"),
    ({"PORT": "eighty"}, "PORT"),
])
def test_production_refuses_unsafe_settings(tmp_path, over, complaint):
    with pytest.raises(SettingsError, match=complaint):
        load_settings(production(tmp_path, **over))


def test_production_reports_every_problem_at_once(tmp_path):
    with pytest.raises(SettingsError) as err:
        load_settings(production(tmp_path, JWT_SECRET="short", STRIPE_SECRET_KEY="sk_test_1", REDIS_URL=None))
    message = str(err.value)
    assert "JWT_SECRET" in message and "STRIPE_SECRET_KEY" in message and "REDIS_URL" in message


def test_development_generates_keys_once_and_keeps_them(tmp_path):
    first = load_settings({"DATA_DIR": str(tmp_path)})
    second = load_settings({"DATA_DIR": str(tmp_path)})
    assert not first.production
    assert first.keys == second.keys  # tokens and sealed bids survive a restart
    assert first.keys.signing_public_key_b64() == second.keys.signing_public_key_b64()
    assert len(first.keys.sealing_key_bytes()) == 32
    path = tmp_path / "dev-keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other = load_settings({"DATA_DIR": str(tmp_path / "elsewhere")})
    assert other.keys != first.keys


def test_development_uses_given_keys_over_generated_ones(tmp_path):
    keys = real_keys()
    s = load_settings({"DATA_DIR": str(tmp_path), **keys})
    assert s.keys.jwt_secret == keys["JWT_SECRET"] and not (tmp_path / "dev-keys.json").exists()


def test_settings_are_frozen(tmp_path):
    s = load_settings({"DATA_DIR": str(tmp_path)})
    with pytest.raises(AttributeError):
        s.mode = "production"  # type: ignore[misc]


# ------------------------------------------------------------------------------ every variable, checked

def test_defaults_are_the_declared_ones_and_round_trip_through_their_text(tmp_path):
    s = load_settings({"DATA_DIR": str(tmp_path)}, persist_dev_keys=False)
    for v in variables():
        if v.path[0] == "keys" or v.name == "DATA_DIR":
            continue
        assert _get(s, v.path) == v.default, v.name
        text = v.kind.render(v.default)
        if text:  # what README shows as the default is itself a valid value, and means the default
            assert _get(override(s, {v.name: text}), v.path) == v.default, v.name


def _get(obj, path):
    for name in path:
        obj = getattr(obj, name)
    return obj


def test_values_are_parsed_into_their_types(tmp_path):
    s = load_settings({
        "DATA_DIR": str(tmp_path), "MODE": "Development", "PORT": "8080", "WEB_CONCURRENCY": "4",
        "RUN_WORKER_IN_PROCESS": "yes", "APPEAL_BOND_PERCENT": "2.5", "DEFAULT_LOCALE": "qu",
        "BONUS_REGIONAL_RATE": "12.5", "BONUS_MYPE_RANGE_GOODS": "100-200",
        "BONUS_EXCLUDED_METHODS": "reverse_auction, direct_contracting",
        "STANDSTILL_BUSINESS_DAYS": "public_tender=10", "PE_EXTRA_HOLIDAYS": "2026-12-24, 2028-12-31",
        "AUCTION_MUST_BEAT_BEST": "0", "AUCTION_MIN_DECREMENT_PERCENT": "1.25",
        "REDFLAG_AMENDMENT_MAX_PCT": "12.5", "STAGE_LIMIT_DAYS": "evaluation=5",
    }, persist_dev_keys=False)
    assert (s.mode, s.port, s.web_concurrency, s.run_worker_in_process) == ("development", 8080, 4, True)
    assert s.appeal_bond_percent == Decimal("2.5") and s.default_locale == "qu"
    assert s.bonus.regional_rate == Decimal("12.5") and s.bonus.mype_range_goods == (100, 200)
    assert s.bonus.mype_range_works == (4_280_000, 180_000_000)  # the others keep their defaults
    assert s.bonus.excluded_methods == {"reverse_auction", "direct_contracting"}
    # A key=days value replaces the keys it names; the other keys keep their defaults.
    assert s.standstill_business_days["public_tender"] == 10
    assert s.standstill_business_days["simplified_award"] == 5
    assert s.extra_holidays == {date(2026, 12, 24), date(2028, 12, 31)}
    assert s.auction.must_beat_best is False and s.auction.min_decrement_percent == Decimal("1.25")
    assert s.redflags.amendment_max_pct == Decimal("12.5")
    assert dict(s.stage_limit_days) == {"published": 45, "tendering": 60, "opening": 2, "evaluation": 5,
                                        "awarded": 30}
    assert hash(s.stage_limit_days) == hash(FrozenMap(dict(s.stage_limit_days)))  # frozen all the way down
    with pytest.raises(TypeError):
        s.stage_limit_days["evaluation"] = 1  # type: ignore[index]


@pytest.mark.parametrize("name, raw, rule", [
    ("BONUS_REGIONAL_RATE", "abc", "must be a number between 0 and 100"),
    ("BONUS_REGIONAL_RATE", "101", "must be a number between 0 and 100"),
    ("BONUS_MYPE_RATE", "NaN", "must be a number between 0 and 100"),
    ("BONUS_REGIONAL_THRESHOLD_SERVICES", "-1", "must be a whole number of at least 0"),
    ("BONUS_REGIONAL_THRESHOLD_WORKS", "9e7", "must be a whole number of at least 0"),
    ("BONUS_MYPE_RANGE_WORKS", "9-1", "must be 'low-high' in céntimos, whole numbers with 0 <= low <= high"),
    ("BONUS_MYPE_RANGE_GOODS", "100", "must be 'low-high' in céntimos"),
    ("BONUS_REGIONAL_LIMA_SCOPE", "peru", "must be one of province, region"),
    ("BONUS_EXCLUDED_METHODS", "subasta", "must be a comma-separated list among public_tender, "),
    ("STANDSTILL_BUSINESS_DAYS", "x=y", "must be key=days pairs with keys among public_tender, "),
    ("STANDSTILL_BUSINESS_DAYS", "public_tender=0", "must be key=days pairs with keys among public_tender,"),
    ("PE_EXTRA_HOLIDAYS", "24/12/2026", "must be comma-separated ISO dates (YYYY-MM-DD)"),
    ("PE_EXTRA_HOLIDAYS", "2026-02-30", "must be comma-separated ISO dates (YYYY-MM-DD)"),
    ("AUCTION_DURATION_SECONDS", "x", "must be a whole number between 10 and 86400"),
    ("AUCTION_DURATION_SECONDS", "5", "must be a whole number between 10 and 86400"),
    ("AUCTION_MIN_DECREMENT_PERCENT", "80", "must be a number between 0 and 50"),
    ("AUCTION_EXTENSION_SECONDS", "3601", "must be a whole number between 0 and 3600"),
    ("AUCTION_MUST_BEAT_BEST", "maybe", "must be 1 or 0"),
    ("REDFLAG_FENCES_MINUTES", "soon", "must be a whole number between 1 and 1440"),
    ("REDFLAG_AMENDMENT_MAX_PCT", "-3", "must be a number of at least 0"),
    ("STAGE_LIMIT_DAYS", "lunch=2", "must be key=days pairs with keys among published, tendering, "),
    ("PORT", "eighty", "must be a whole number between 1 and 65535"),
    ("PORT", "70000", "must be a whole number between 1 and 65535"),
    ("WEB_CONCURRENCY", "0", "must be a whole number between 1 and 256"),
    ("DB_POOL_MIN", "0", "must be a whole number of at least 1"),
    ("RUN_WORKER_IN_PROCESS", "sometimes", "must be 1 or 0"),
    ("MODE", "staging", "must be one of development, production"),
    ("SEARCH_BACKEND", "elastic", "must be one of auto, postgres, meilisearch"),
    ("DATABASE_URL", "mysql://db/x", "must be a URL starting with postgresql:// or postgres://"),
    ("REDIS_URL", "localhost:6379", "must be a URL starting with redis:// or rediss:// or unix://"),
    ("PUBLIC_BASE_URL", "example.pe", "must be a URL starting with http:// or https://"),
    ("DEFAULT_LOCALE", "fr_FR", "must be a locale of a supported language"),
    ("OCID_PREFIX", "ma0000", "must be an OCDS prefix"),
    ("MAIL_FROM", "nobody", "must be an email address"),
    ("APPEAL_BOND_PERCENT", "150", "must be a number between 0 and 100"),
])
def test_a_bad_value_is_refused_in_one_line_naming_the_variable_and_the_rule(tmp_path, name, raw, rule):
    with pytest.raises(SettingsError) as err:
        load_settings({"DATA_DIR": str(tmp_path), name: raw}, persist_dev_keys=False)
    message = str(err.value)
    assert message.startswith(f"{name}: {rule}") and message.endswith(f'got "{raw}"')
    assert "\n" not in message


def test_the_rule_reads_as_the_readme_shows_it(tmp_path):
    with pytest.raises(SettingsError) as err:
        load_settings({"DATA_DIR": str(tmp_path), "BONUS_REGIONAL_RATE": "abc"}, persist_dev_keys=False)
    assert str(err.value) == 'BONUS_REGIONAL_RATE: must be a number between 0 and 100, got "abc"'


def test_every_checked_variable_refuses_nonsense(tmp_path):
    free_text = {"MEILI_API_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "HOST", "SMTP_HOST", "DATA_DIR",
                 "JWT_SECRET", "SIGNING_KEY", "SEALING_KEY", "SMTP_USERNAME", "SMTP_PASSWORD"}  # any text is a value
    # (keys: checked below)
    checked = [v for v in variables() if v.name not in free_text]
    assert len(checked) > 50
    for v in checked:
        with pytest.raises(SettingsError, match=f"^{v.name}: must be "):
            load_settings({"DATA_DIR": str(tmp_path), v.name: "?nonsense?"}, persist_dev_keys=False)


def test_several_bad_values_are_reported_together_on_one_line(tmp_path):
    with pytest.raises(SettingsError) as err:
        load_settings({"DATA_DIR": str(tmp_path), "PORT": "x", "AUCTION_AUTO_AWARD": "2"}, persist_dev_keys=False)
    assert str(err.value).startswith('PORT: must be') and '; AUCTION_AUTO_AWARD: must be 1 or 0' in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("env, message", [
    ({"SEARCH_BACKEND": "meilisearch"}, 'SEARCH_BACKEND: "meilisearch" needs MEILI_URL'),
    ({"DB_POOL_MIN": "5", "DB_POOL_MAX": "4"}, 'DB_POOL_MAX: must be at least DB_POOL_MIN (5), got "4"'),
    ({"AUCTION_DURATION_SECONDS": "60", "AUCTION_SOFT_CLOSE_SECONDS": "120"},
     'AUCTION_SOFT_CLOSE_SECONDS: must be at most AUCTION_DURATION_SECONDS (60), got "120"'),
    ({"AUCTION_EXTENSION_SECONDS": "0"},
     'AUCTION_EXTENSION_SECONDS: must be above 0 while AUCTION_SOFT_CLOSE_SECONDS is, got "0"'),
    ({"AUCTION_MIN_DECREMENT_PERCENT": "0"},
     "AUCTION_MIN_DECREMENT_CENTS, AUCTION_MIN_DECREMENT_PERCENT: at least one must be above 0"),
    ({**real_keys(), "SIGNING_KEY": "bm90LWEta2V5"},
     "SIGNING_KEY: must be a raw Ed25519 private key (32 bytes, urlsafe base64)"),
    ({**real_keys(), "SEALING_KEY": _b64(b"16 bytes only!!!")}, "SEALING_KEY: must be 32 random bytes, urlsafe base64"),
])
def test_rules_across_variables_are_checked_at_start_up_too(tmp_path, env, message):
    with pytest.raises(SettingsError) as err:
        load_settings({"DATA_DIR": str(tmp_path), **env}, persist_dev_keys=False)
    assert str(err.value) == message


def test_a_misspelt_variable_of_ours_is_refused_not_ignored(tmp_path):
    with pytest.raises(SettingsError) as err:
        load_settings({"DATA_DIR": str(tmp_path), "BONUS_REGIONAL_RATES": "12"}, persist_dev_keys=False)
    assert str(err.value) == "BONUS_REGIONAL_RATES: not a setting (did you mean BONUS_REGIONAL_RATE?)"
    # Other software's variables are none of our business.
    assert load_settings({"DATA_DIR": str(tmp_path), "PATH": "/bin", "PEX_ROOT": "/x"}, persist_dev_keys=False)


def test_empty_values_mean_the_default(tmp_path):
    s = load_settings({"DATA_DIR": str(tmp_path), "PORT": "", "BONUS_REGIONAL_RATE": " ", "PE_EXTRA_HOLIDAYS": ""},
                      persist_dev_keys=False)
    assert s.port == 8000 and s.bonus.regional_rate == Decimal(10) and s.extra_holidays == frozenset()


def test_override_checks_like_the_environment_and_keeps_the_rest(tmp_path):
    base = load_settings({"DATA_DIR": str(tmp_path), "PORT": "9000"}, persist_dev_keys=False)
    changed = override(base, {"BONUS_MYPE_RATE": "4", "STAGE_LIMIT_DAYS": "opening=1"})
    assert changed.bonus.mype_rate == Decimal(4) and changed.stage_limit_days["opening"] == 1
    assert changed.port == 9000 and changed.keys == base.keys and base.bonus.mype_rate == Decimal(5)
    assert override(changed, {"BONUS_MYPE_RATE": ""}).bonus.mype_rate == Decimal(5)
    with pytest.raises(SettingsError, match='^BONUS_MYPE_RATE: must be a number between 0 and 100, got "x"$'):
        override(base, {"BONUS_MYPE_RATE": "x"})
    with pytest.raises(SettingsError, match="^BONUS_RATE: not a setting"):
        override(base, {"BONUS_RATE": "4"})


def test_the_vocabularies_settings_check_are_the_domains():
    assert tuple(m.value for m in Method) == METHODS
    assert set(COMPETITIVE_METHODS) == oversight.COMPETITIVE_METHODS
    assert tuple(x for x in oversight.STAGES if x != "draft") == STAGES
    assert LANGUAGES == i18n.SUPPORTED


# ---------------------------------------------------------------------------- the process environment

# Reading the process environment is settings.py's job; cli.py hands it on to the HTTP workers and
# embedded.py to the servers it starts.
ALLOWED_READERS = {"marketplace/settings.py", "marketplace/cli.py", "marketplace/embedded.py"}


def test_nothing_else_reads_the_environment():
    readers = set()
    for package in ("marketplace", "suppliers", "tenders", "search"):
        for path in (ROOT / package).rglob("*.py"):
            if re.search(r"\bos\.environ\b|\bgetenv\(|\bfrom os import\b.*\benviron\b", path.read_text()):
                readers.add(str(path.relative_to(ROOT)))
    assert readers <= ALLOWED_READERS
    assert "marketplace/settings.py" in readers  # the scan finds what it looks for


def test_settings_import_no_domain_and_piccolo_needs_no_environment_variable():
    code = ("import sys, os; os.environ.pop('PICCOLO_CONF', None); import marketplace.settings; "
            "mods = [m for m in sys.modules if m.split('.')[0] in ('marketplace', 'suppliers', 'tenders', 'search')]; "
            "print(sorted(mods)); from piccolo.conf.apps import Finder; "
            "print(Finder().get_app_registry().apps[0])")
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True).stdout
    modules, first_app = out.splitlines()
    assert modules == "['marketplace', 'marketplace.settings']"
    assert first_app.startswith("marketplace.core.piccolo_app")


# ------------------------------------------------------------------------------------ through the CLI

def _cli_env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.split("_")[0] not in PREFIXES_OF_SETTINGS}
    return {**env, "DATA_DIR": str(tmp_path), **extra}


PREFIXES_OF_SETTINGS = {v.name.split("_")[0] for v in variables()}


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["migrate"], ["seed", "--demo"], ["audit", "verify"],
                                     ["reindex"], ["export"], ["payments", "reconcile"]])
def test_every_command_stops_on_a_bad_setting_with_one_line_and_status_1(tmp_path, command):
    result = subprocess.run([sys.executable, "-m", "marketplace.cli", *command], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=_cli_env(tmp_path, BONUS_REGIONAL_RATE="abc"))
    assert result.returncode == 1
    assert result.stderr == 'Error: BONUS_REGIONAL_RATE: must be a number between 0 and 100, got "abc"\n'
    assert not (tmp_path / "postgres").exists()  # nothing started


def test_the_command_line_refuses_a_bad_setting_in_process(tmp_path):
    result = CliRunner().invoke(cli, ["worker"], env={"DATA_DIR": str(tmp_path), "REDIS_URL": "redis://r:6379/0",
                                                      "STAGE_LIMIT_DAYS": "lunch=2"})
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        'Error: STAGE_LIMIT_DAYS: must be key=days pairs with keys among published, tendering, opening, '
        'evaluation, awarded and days between 1 and 366, got "lunch=2"']
