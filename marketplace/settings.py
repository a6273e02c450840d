"""Settings: every environment variable the code reads, parsed and checked once at start-up, frozen, injected.

Each field below names its variable, its default and its rule (`var(NAME, kind, default)`); README.md's
settings table lists every one of them (tests/core/test_settings.py compares the two both ways).
`load_settings()` reads the environment once; a bad value raises SettingsError with one line naming the
variable and the rule (`BONUS_REGIONAL_RATE: must be a number between 0 and 100, got "abc"`), which every
`marketplace` command prints as `Error: ...` before it exits with status 1. Nothing else reads os.environ.

The domains build their policy objects (bonuses, standstill, auction defaults, red-flag thresholds, the
business-day calendar) from the values here: this module imports no domain, so the vocabularies it checks
keys against (methods, kinds, stages) are written here and pinned to the domains' own by tests.

Development mode fills in what is missing with safe local defaults and generates its own keys, kept in the
data folder so they survive restarts; production mode refuses to start without real ones.
"""

from __future__ import annotations

import base64
import difflib
import functools
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Generic, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class SettingsError(RuntimeError):
    """The environment does not describe a service that may start (one line: the variable and the rule)."""


# Values that only development may run with. Production refuses them.
DEV_MARKER = "dev-"

# The vocabularies settings are checked against. Written here because settings import no domain; tests pin
# each to the domain's own (tenders.domain.Method, the bonus kinds, the oversight stages, core.i18n).
METHODS = ("public_tender", "public_contest", "simplified_award", "reverse_auction",
           "price_comparison", "direct_contracting")
COMPETITIVE_METHODS = METHODS[:5]
STAGES = ("published", "tendering", "opening", "evaluation", "awarded")  # the stages a tender may overstay
LANGUAGES = ("es", "en", "qu")
# The mark after OCID_PREFIX of every process made in training mode (Settings.process_ocid_prefix).
TRAINING_OCID_MARK = "training-"


# ------------------------------------------------------------------------------------------ value types

V = TypeVar("V")


class FrozenMap(Mapping[str, V], Generic[V]):
    """An immutable, hashable mapping (per-method days, per-stage limits): a frozen Settings can hold it."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, V] | Iterable[tuple[str, V]] = ()) -> None:
        self._items: dict[str, V] = dict(items)

    def __getitem__(self, key: str) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"


class Invalid(ValueError):
    """A raw value breaks its rule; the message is the rule ("a whole number between 1 and 65535")."""


class Kind:
    """How one variable's text becomes a value (`parse`, raising Invalid with the rule) and back (`render`)."""

    rule = "valid"

    def parse(self, raw: str, default: Any) -> Any:
        return raw

    def render(self, value: Any) -> str:
        return "" if value is None else str(value)


class Text(Kind):
    rule = "text"


class Pattern(Kind):
    def __init__(self, regex: str, rule: str) -> None:
        self.regex, self.rule = re.compile(regex), rule

    def parse(self, raw: str, default: Any) -> str:
        if not self.regex.fullmatch(raw):
            raise Invalid(self.rule)
        return raw


class Url(Kind):
    def __init__(self, *schemes: str) -> None:
        self.schemes = schemes
        self.rule = "a URL starting with " + " or ".join(f"{s}://" for s in schemes)

    def parse(self, raw: str, default: Any) -> str:
        scheme, sep, rest = raw.partition("://")
        if not sep or scheme.lower() not in self.schemes or not rest:
            raise Invalid(self.rule)
        return raw


class Choice(Kind):
    def __init__(self, *options: str, fold: bool = True) -> None:
        self.options, self.fold = options, fold
        self.rule = "one of " + ", ".join(options)

    def parse(self, raw: str, default: Any) -> str:
        value = raw.lower() if self.fold else raw
        if value not in self.options:
            raise Invalid(self.rule)
        return value


class Locale(Kind):
    rule = "a locale of a supported language (" + ", ".join(("es_PE", *LANGUAGES[1:])) + ")"

    def parse(self, raw: str, default: Any) -> str:
        m = re.fullmatch(r"([a-z]{2,3})([_-][A-Za-z]{2})?", raw)
        if m is None or m[1] not in LANGUAGES:
            raise Invalid(self.rule)
        return raw.replace("-", "_")


class Int(Kind):
    def __init__(self, low: int, high: int | None = None) -> None:
        self.low, self.high = low, high
        self.rule = (f"a whole number between {low} and {high}" if high is not None
                     else f"a whole number of at least {low}")

    def parse(self, raw: str, default: Any) -> int:
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise Invalid(self.rule)
        value = int(raw)
        if value < self.low or (self.high is not None and value > self.high):
            raise Invalid(self.rule)
        return value


class Dec(Kind):
    def __init__(self, low: Decimal | int, high: Decimal | int | None = None) -> None:
        self.low, self.high = Decimal(low), None if high is None else Decimal(high)
        self.rule = (f"a number between {low} and {high}" if high is not None else f"a number of at least {low}")

    def parse(self, raw: str, default: Any) -> Decimal:
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise Invalid(self.rule) from None
        if not value.is_finite() or value < self.low or (self.high is not None and value > self.high):
            raise Invalid(self.rule)
        return value


class Bool(Kind):
    rule = "1 or 0 (true/false, yes/no and on/off also do)"
    TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")

    def parse(self, raw: str, default: Any) -> bool:
        value = raw.lower()
        if value not in self.TRUE + self.FALSE:
            raise Invalid(self.rule)
        return value in self.TRUE

    def render(self, value: Any) -> str:
        return "1" if value else "0"


class CentsRange(Kind):
    rule = "'low-high' in céntimos, whole numbers with 0 <= low <= high"

    def parse(self, raw: str, default: Any) -> tuple[int, int]:
        m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", raw)
        if m is None or int(m[1]) > int(m[2]):
            raise Invalid(self.rule)
        return int(m[1]), int(m[2])

    def render(self, value: Any) -> str:
        return f"{value[0]}-{value[1]}"


class DaysByKey(Kind):
    """`key=days,...` over the default mapping: the keys given replace theirs, the others keep theirs."""

    def __init__(self, keys: Iterable[str], low: int, high: int) -> None:
        self.keys, self.low, self.high = tuple(keys), low, high
        self.rule = (f"key=days pairs with keys among {', '.join(self.keys)} and days between {low} and {high}")

    def parse(self, raw: str, default: Any) -> FrozenMap[int]:
        out = dict(default)
        for part in raw.split(","):
            if not part.strip():
                continue
            key, sep, days = (x.strip() for x in part.partition("="))
            if not sep or key not in self.keys or not days.isdigit() or not self.low <= int(days) <= self.high:
                raise Invalid(self.rule)
            out[key] = int(days)
        return FrozenMap(out)

    def render(self, value: Any) -> str:
        return ",".join(f"{k}={v}" for k, v in value.items())


class Names(Kind):
    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = tuple(allowed)
        self.rule = "a comma-separated list among " + ", ".join(self.allowed)

    def parse(self, raw: str, default: Any) -> frozenset[str]:
        names = {x.strip() for x in raw.split(",") if x.strip()}
        if not names or not names <= set(self.allowed):
            raise Invalid(self.rule)
        return frozenset(names)

    def render(self, value: Any) -> str:
        return ",".join(sorted(value))


class Dates(Kind):
    rule = "comma-separated ISO dates (YYYY-MM-DD)"

    def parse(self, raw: str, default: Any) -> frozenset[date]:
        out = set()
        for item in (x.strip() for x in raw.split(",")):
            if not item:
                continue
            try:
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", item):
                    raise ValueError(item)
                out.add(date.fromisoformat(item))
            except ValueError:
                raise Invalid(self.rule) from None
        return frozenset(out)

    def render(self, value: Any) -> str:
        return ",".join(d.isoformat() for d in sorted(value))


class Folder(Kind):
    rule = "a folder path"

    def parse(self, raw: str, default: Any) -> Path:
        return Path(raw)


class RegistryFolder(Kind):
    """A folder that holds the given registry file (REDFLAG_SETTINGS_DIR: publishers.ini); its contents are
    checked by the domain that reads them."""

    def __init__(self, registry: str) -> None:
        self.registry = registry
        self.rule = f"a folder holding {registry}"

    def parse(self, raw: str, default: Any) -> Path:
        if not (Path(raw) / self.registry).is_file():
            raise Invalid(self.rule)
        return Path(raw)


def var(name: str, kind: Kind, default: Any, *, shown: str | None = None, secret: bool = False) -> Any:
    """A field read from the environment variable `name`. `shown`: the README's word for a default that is
    not a value (`embedded`, `generated`); `secret`: kept out of repr()."""
    return field(default=default, repr=not secret, metadata={"env": name, "kind": kind, "shown": shown})


def group(cls: type) -> Any:
    """A small frozen sub-object of related variables (settings.bonus, settings.auction, ...)."""
    return field(default_factory=cls, metadata={"group": cls})


# ------------------------------------------------------------------------------------------------- keys

def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.lru_cache(maxsize=8)
def _ed25519_key(encoded: str) -> Ed25519PrivateKey:
    """The key object of an encoded private key, made once (every bid receipt is signed with it)."""
    return Ed25519PrivateKey.from_private_bytes(b64decode(encoded))


@dataclass(frozen=True, slots=True)
class Keys:
    """Secret material. Never logged (repr hides it). Read as a set: all three given, or none (generated)."""

    jwt_secret: str = var("JWT_SECRET", Text(), None, shown="generated", secret=True)
    # Ed25519 private key, raw 32 bytes, urlsafe base64
    signing_key: str = var("SIGNING_KEY", Text(), None, shown="generated", secret=True)
    # AES-256 key-encryption key for sealed bids, urlsafe base64
    sealing_key: str = var("SEALING_KEY", Text(), None, shown="generated", secret=True)

    def signing_private_key(self) -> Ed25519PrivateKey:
        return _ed25519_key(self.signing_key)

    def signing_public_key_b64(self) -> str:
        pub = self.signing_private_key().public_key()
        return _b64(pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    def sealing_key_bytes(self) -> bytes:
        return b64decode(self.sealing_key)

    @staticmethod
    def generate() -> Keys:
        priv = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return Keys(
            jwt_secret=DEV_MARKER + secrets.token_urlsafe(48),
            signing_key=_b64(priv),
            sealing_key=_b64(secrets.token_bytes(32)),
        )


# ------------------------------------------------------------------------------------------- the groups

PERCENT = Dec(0, 100)
CENTS = Int(0)


@dataclass(frozen=True, slots=True)
class BonusSettings:
    """The regional and MYPE bonuses (tenders.evaluation.policy builds the policy objects from these)."""

    regional_rate: Decimal = var("BONUS_REGIONAL_RATE", PERCENT, Decimal(10))
    regional_threshold_services: int = var("BONUS_REGIONAL_THRESHOLD_SERVICES", CENTS, 20_000_000)
    regional_threshold_consultancy: int = var("BONUS_REGIONAL_THRESHOLD_CONSULTANCY", CENTS, 20_000_000)
    regional_threshold_works: int = var("BONUS_REGIONAL_THRESHOLD_WORKS", CENTS, 90_000_000)
    regional_lima_scope: str = var("BONUS_REGIONAL_LIMA_SCOPE", Choice("province", "region"), "province")
    mype_rate: Decimal = var("BONUS_MYPE_RATE", PERCENT, Decimal(5))
    mype_range_goods: tuple[int, int] = var("BONUS_MYPE_RANGE_GOODS", CentsRange(), (4_280_000, 40_000_000))
    mype_range_services: tuple[int, int] = var("BONUS_MYPE_RANGE_SERVICES", CentsRange(), (4_280_000, 40_000_000))
    mype_range_consultancy: tuple[int, int] = var("BONUS_MYPE_RANGE_CONSULTANCY", CentsRange(),
                                                  (4_280_000, 40_000_000))
    mype_range_works: tuple[int, int] = var("BONUS_MYPE_RANGE_WORKS", CentsRange(), (4_280_000, 180_000_000))
    excluded_methods: frozenset[str] = var("BONUS_EXCLUDED_METHODS", Names(METHODS),
                                           frozenset({"reverse_auction"}))


@dataclass(frozen=True, slots=True)
class AuctionSettings:
    """The default policy of a live auction (tenders.auctions.policy); an officer may override each field.
    The ranges are those of tenders.auctions.domain.AuctionPolicy.problems() (a test holds them equal)."""

    duration_seconds: int = var("AUCTION_DURATION_SECONDS", Int(10, 86_400), 600)
    min_decrement_cents: int = var("AUCTION_MIN_DECREMENT_CENTS", Int(0), 0)
    min_decrement_percent: Decimal = var("AUCTION_MIN_DECREMENT_PERCENT", Dec(0, 50), Decimal("0.5"))
    soft_close_seconds: int = var("AUCTION_SOFT_CLOSE_SECONDS", Int(0, 86_400), 120)
    extension_seconds: int = var("AUCTION_EXTENSION_SECONDS", Int(0, 3_600), 120)
    max_extensions: int = var("AUCTION_MAX_EXTENSIONS", Int(0), 0)
    must_beat_best: bool = var("AUCTION_MUST_BEAT_BEST", Bool(), True)
    auto_award: bool = var("AUCTION_AUTO_AWARD", Bool(), True)


@dataclass(frozen=True, slots=True)
class RedFlagSettings:
    """The red-flag read model's own settings (marketplace.oversight.redflags.readmodel). Cardinal's indicators
    are tuned per publisher in INI files (REDFLAG_SETTINGS_DIR), not here."""

    amendment_max_pct: Decimal = var("REDFLAG_AMENDMENT_MAX_PCT", Dec(0), Decimal(20))
    # the read model (oversight/redflags/readmodel.py): population fences recomputed at most this often...
    fences_minutes: int = var("REDFLAG_FENCES_MINUTES", Int(1, 1440), 15)
    # ...and compiled releases taken per sync transaction
    sync_batch: int = var("REDFLAG_SYNC_BATCH", Int(1, 100_000), 1000)
    # Cardinal's settings per publisher (publishers.ini and the INI files it names); None: the built-in folder,
    # marketplace/oversight/redflags/publishers/
    settings_dir: Path | None = var("REDFLAG_SETTINGS_DIR", RegistryFolder("publishers.ini"), None,
                                     shown="built-in")


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    """Abuse limits and hardening (marketplace.core.auth.passwords, marketplace.core.ratelimit,
    marketplace.core.hardening). A limit of 0 turns that limit off."""

    # Argon2 runs on this many threads per process, never on the event loop...
    password_hash_workers: int = var("PASSWORD_HASH_WORKERS", Int(1, 64), 1)
    # ...and this many more wait for one; a request beyond them is answered 503 at once.
    password_hash_queue: int = var("PASSWORD_HASH_QUEUE", Int(0, 10_000), 32)
    # ...at this nice value (Linux; 19 the lowest priority): a busy machine serves bids before sign-ins.
    password_hash_niceness: int = var("PASSWORD_HASH_NICENESS", Int(0, 19), 19)
    # ...under SCHED_IDLE (Linux): they get only the cores no other thread wants.
    password_hash_idle: bool = var("PASSWORD_HASH_IDLE", Bool(), True)
    # ...and at most this many hashes start per second in a process (0: no pacing): a hash's memory traffic
    # slows the bids' loop and PostgreSQL whatever its priority.
    password_hash_per_second: int = var("PASSWORD_HASH_PER_SECOND", Int(0, 10_000), 1)
    rate_limit_window_seconds: int = var("RATE_LIMIT_WINDOW_SECONDS", Int(1, 86_400), 300)
    rate_limit_signin_per_ip: int = var("RATE_LIMIT_SIGNIN_PER_IP", Int(0), 60)
    rate_limit_signin_per_account: int = var("RATE_LIMIT_SIGNIN_PER_ACCOUNT", Int(0), 10)
    rate_limit_register_per_ip: int = var("RATE_LIMIT_REGISTER_PER_IP", Int(0), 10)
    rate_limit_refresh_per_ip: int = var("RATE_LIMIT_REFRESH_PER_IP", Int(0), 60)
    # Proxies in front of the app whose X-Forwarded-For entry is trusted (0: the peer address is the client).
    trusted_proxy_hops: int = var("TRUSTED_PROXY_HOPS", Int(0, 10), 0)
    json_max_depth: int = var("JSON_MAX_DEPTH", Int(2, 1_000), 32)
    request_max_body_bytes: int = var("REQUEST_MAX_BODY_BYTES", Int(1_024), 20 * 1024 * 1024)
    metrics_token: str | None = var("METRICS_TOKEN", Pattern(r"[!-~]{16,256}", "at least 16 printable characters"),
                                    None, secret=True)
    # Anonymous live-board streams (SSE) per process, and per client address.
    sse_anonymous_max: int = var("SSE_ANONYMOUS_MAX", Int(0), 2_000)
    sse_anonymous_per_ip: int = var("SSE_ANONYMOUS_PER_IP", Int(0), 20)
    # A bearer token's user (disabled? signed out everywhere? roles changed?) is read again after this long.
    auth_recheck_seconds: int = var("AUTH_RECHECK_SECONDS", Int(0, 300), 5)


# ---------------------------------------------------------------------------------------------- Settings

@dataclass(frozen=True, slots=True)
class Settings:
    # training: a sandbox for rehearsing whole procedures (short periods, marked data); see README
    mode: str = var("MODE", Choice("development", "production", "training"), "development")
    database_url: str | None = var("DATABASE_URL", Url("postgresql", "postgres"), None, shown="embedded")
    database_replica_url: str | None = var("DATABASE_REPLICA_URL", Url("postgresql", "postgres"), None)
    redis_url: str | None = var("REDIS_URL", Url("redis", "rediss", "unix"), None, shown="embedded")
    meili_url: str | None = var("MEILI_URL", Url("http", "https"), None)
    meili_api_key: str | None = var("MEILI_API_KEY", Text(), None, secret=True)
    # auto: Meilisearch when MEILI_URL is set
    search_backend: str = var("SEARCH_BACKEND", Choice("auto", "postgres", "meilisearch"), "auto")
    stripe_secret_key: str | None = var("STRIPE_SECRET_KEY", Text(), None, secret=True)
    stripe_webhook_secret: str | None = var("STRIPE_WEBHOOK_SECRET", Text(), None, secret=True)
    stripe_api_base: str | None = var("STRIPE_API_BASE", Url("http", "https"), None, shown="Stripe's")
    keys: Keys = field(default_factory=Keys.generate, repr=False, metadata={"group": Keys})
    signing_key_id: str = var("SIGNING_KEY_ID", Pattern(r"[A-Za-z0-9._-]{1,64}", "letters, digits, '.', '_' or"
                                                        " '-' (at most 64)"), "ma-1")
    ocid_prefix: str = var("OCID_PREFIX", Pattern(r"ocds-[a-z0-9]{6}-", "an OCDS prefix: 'ocds-', six lowercase "
                                                  "letters or digits, then '-'"), "ocds-ma0000-")
    default_locale: str = var("DEFAULT_LOCALE", Locale(), "es_PE")
    data_dir: Path = var("DATA_DIR", Folder(), Path(".data"))
    host: str = var("HOST", Text(), "127.0.0.1")
    port: int = var("PORT", Int(1, 65_535), 8000)
    web_concurrency: int = var("WEB_CONCURRENCY", Int(1, 256), 1)
    jwt_ttl_seconds: int = var("JWT_TTL_SECONDS", Int(1), 900)
    # A refresh token's lifetime: each refresh spends it and issues a new one for this long again.
    refresh_token_ttl_seconds: int = var("REFRESH_TOKEN_TTL_SECONDS", Int(60), 43_200)
    db_pool_min: int = var("DB_POOL_MIN", Int(1), 2)
    db_pool_max: int = var("DB_POOL_MAX", Int(1), 20)
    run_worker_in_process: bool = var("RUN_WORKER_IN_PROCESS", Bool(), False, shown="off (on in embedded mode)")
    registry_fee_cents: int = var("REGISTRY_FEE_CENTS", Int(1), 10_000)  # the supplier registry fee, in céntimos
    appeal_bond_percent: Decimal = var("APPEAL_BOND_PERCENT", PERCENT, Decimal(3))  # % of the lot's value
    # The UIT (unidad impositiva tributaria) in force, in céntimos: S/ 5,500 in 2026 (it changes every year).
    uit_value_cents: int = var("UIT_VALUE_CENTS", Int(1), 550_000)
    # Appeals of a lot estimated above this many UIT go to the Tribunal; up to it, to the agency's head.
    appeal_tribunal_uit: int = var("APPEAL_TRIBUNAL_UIT", Int(0, 1_000_000), 50)
    # alarm when a payment stays 'requested' (Stripe not reached) longer than this
    payment_stuck_minutes: int = var("PAYMENT_STUCK_MINUTES", Int(1), 30)
    smtp_host: str | None = var("SMTP_HOST", Text(), None)
    smtp_port: int = var("SMTP_PORT", Int(1, 65_535), 25)
    # none: plain SMTP (a local relay); starttls: upgrade the connection (port 587); tls: TLS from the start (465)
    smtp_security: str = var("SMTP_SECURITY", Choice("none", "starttls", "tls"), "none")
    smtp_username: str | None = var("SMTP_USERNAME", Text(), None)
    smtp_password: str | None = var("SMTP_PASSWORD", Text(), None, secret=True)
    mail_from: str = var("MAIL_FROM", Pattern(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an email address"),
                         "no-responder@mercado-abierto.pe")
    # unset: the address actually served, http://HOST:PORT (see served_url)
    public_base_url: str = var("PUBLIC_BASE_URL", Url("http", "https"), "http://127.0.0.1:8000",
                               shown="http://HOST:PORT")
    audit_checkpoint_every: int = var("AUDIT_CHECKPOINT_EVERY", Int(1), 1000)  # sign the chain's head every N
    audit_checkpoint_seconds: int = var("AUDIT_CHECKPOINT_SECONDS", Int(1), 300)  # ...or every T seconds
    outbox_retention_days: int = var("OUTBOX_RETENTION_DAYS", Int(1), 7)
    # the portal shows a statistic (concentration, stage times) only when at least this many processes are behind it
    portal_min_sample: int = var("PORTAL_MIN_SAMPLE", Int(1, 10_000), 5)
    # The opening of sealed bids: at least this many distinct authorised people of the buying agency confirm it...
    opening_quorum: int = var("OPENING_QUORUM", Int(2, 10), 2)
    # ...each confirmation counting for this many minutes (an older one lapses and must be given again).
    opening_window_minutes: int = var("OPENING_WINDOW_MINUTES", Int(1, 1440), 30)
    bonus: BonusSettings = group(BonusSettings)
    # Training mode: a day of the minimum periods, the amendment window and the standstill lasts this long.
    training_day_seconds: int = var("TRAINING_DAY_SECONDS", Int(1, 86_400), 15)
    # Days to appeal an award ("plazo para apelar la buena pro"), in business days, per method.
    standstill_business_days: FrozenMap[int] = var("STANDSTILL_BUSINESS_DAYS", DaysByKey(METHODS, 1, 90), FrozenMap({
        "public_tender": 8, "public_contest": 8, "simplified_award": 5,
        "reverse_auction": 5, "price_comparison": 5, "direct_contracting": 5}))
    # Non-working days declared on top of Peru's national holidays (which come from the `holidays` package).
    extra_holidays: frozenset[date] = var("PE_EXTRA_HOLIDAYS", Dates(), frozenset())
    auction: AuctionSettings = group(AuctionSettings)
    redflags: RedFlagSettings = group(RedFlagSettings)
    security: SecuritySettings = group(SecuritySettings)
    stage_limit_days: FrozenMap[int] = var("STAGE_LIMIT_DAYS", DaysByKey(STAGES, 1, 366), FrozenMap({
        "published": 45, "tendering": 60, "opening": 2, "evaluation": 20, "awarded": 30}))

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def training(self) -> bool:
        """The training sandbox: short periods, every answer marked, ocids of its own (never real records)."""
        return self.mode == "training"

    @property
    def process_ocid_prefix(self) -> str:
        """What a new contracting process's ocid starts with: OCID_PREFIX, followed in training mode by
        TRAINING_OCID_MARK so that a training record can never be taken for a real one."""
        return self.ocid_prefix + (TRAINING_OCID_MARK if self.training else "")

    @property
    def appeal_tribunal_above_cents(self) -> int:
        """Appeals of a lot whose estimated value is above this go to the Tribunal; up to it, to the agency's
        head (APPEAL_TRIBUNAL_UIT x UIT_VALUE_CENTS)."""
        return self.appeal_tribunal_uit * self.uit_value_cents

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url


# ------------------------------------------------------------------------------------- the variables

@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable: its name, where its value sits in Settings, its rule and its default."""

    name: str
    path: tuple[str, ...]  # ("port",), ("bonus", "regional_rate"), ("keys", "jwt_secret")
    kind: Kind
    default: Any
    shown: str | None

    def default_text(self) -> str:
        """The default as README shows it: a word for what is not a value, else the text to write."""
        if self.shown is not None:
            return self.shown
        return self.kind.render(self.default) or "none"


def variables(cls: type = Settings, path: tuple[str, ...] = ()) -> list[Variable]:
    """Every environment variable Settings reads, in declaration order."""
    out: list[Variable] = []
    for f in fields(cls):
        if "group" in f.metadata:
            out += variables(f.metadata["group"], (*path, f.name))
        elif "env" in f.metadata:
            out.append(Variable(f.metadata["env"], (*path, f.name), f.metadata["kind"], f.default,
                                f.metadata["shown"]))
    return out


def _quote(raw: str) -> str:
    return json.dumps(raw, ensure_ascii=False)


def _parsed(v: Variable, raw: str) -> Any:
    try:
        return v.kind.parse(raw.strip(), v.default)
    except Invalid as exc:
        raise SettingsError(f"{v.name}: must be {exc}, got {_quote(raw)}") from None


def _assign(settings: Settings, values: Mapping[tuple[str, ...], Any]) -> Settings:
    """`settings` with the values at these paths replaced (sub-objects rebuilt)."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path, value in values.items():
        if len(path) == 1:
            top[path[0]] = value
        else:
            nested.setdefault(path[0], {})[path[1]] = value
    for name, changes in nested.items():
        top[name] = replace(getattr(settings, name), **changes)
    return replace(settings, **top)


# Prefixes only our variables use: a variable with one of them that Settings does not know is a typo, which
# would otherwise run the default without a word.
OUR_PREFIXES = ("BONUS_", "AUCTION_", "REDFLAG_", "STANDSTILL_", "STAGE_LIMIT", "PE_EXTRA", "RATE_LIMIT_",
                "PASSWORD_HASH_")


def _unknown(env: Mapping[str, str]) -> list[str]:
    known = [v.name for v in variables()]
    out = []
    for name in sorted(n for n in env if n.startswith(OUR_PREFIXES) and n not in known):
        close = difflib.get_close_matches(name, known, n=1)
        out.append(f"{name}: not a setting" + (f" (did you mean {close[0]}?)" if close else ""))
    return out


def _parse_all(env: Mapping[str, str], skip: Iterable[str] = ()) -> tuple[dict[tuple[str, ...], Any], list[str]]:
    values: dict[tuple[str, ...], Any] = {}
    errors: list[str] = _unknown(env)
    for v in variables():
        raw = env.get(v.name)
        if v.path[0] in skip or raw is None or not raw.strip():
            continue
        try:
            values[v.path] = _parsed(v, raw)
        except SettingsError as exc:
            errors.append(str(exc))
    return values, errors


def _load_or_create_dev_keys(data_dir: Path) -> Keys:
    path = data_dir / "dev-keys.json"
    if path.exists():
        return Keys(**json.loads(path.read_text()))
    data_dir.mkdir(parents=True, exist_ok=True)
    keys = Keys.generate()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({k: getattr(keys, k) for k in Keys.__slots__}))
    tmp.chmod(0o600)
    tmp.replace(path)
    return keys


def _keys(env: Mapping[str, str], mode: str, data_dir: Path, persist_dev_keys: bool) -> Keys:
    given = {v.path[1]: (env.get(v.name) or "").strip() for v in variables() if v.path[0] == "keys"}
    if all(given.values()):
        return Keys(**given)
    if mode == "production":
        missing = [name.upper() for name, value in given.items() if not value]
        raise SettingsError(f"production mode needs real keys; missing: {', '.join(missing)}")
    if persist_dev_keys:
        return _load_or_create_dev_keys(data_dir)
    return Keys.generate()


def served_url(host: str, port: int) -> str:
    """PUBLIC_BASE_URL when it is not set: the address `marketplace serve` listens on (a wildcard address
    as the local machine's)."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def load_settings(env: Mapping[str, str] | None = None, *, persist_dev_keys: bool = True) -> Settings:
    """Build Settings from the environment (the process's when `env` is None), checking every value.
    Raises SettingsError: one line naming each bad variable and its rule."""
    env = os.environ if env is None else env
    values, errors = _parse_all(env, skip=("keys",))
    if errors:
        raise SettingsError("; ".join(errors))
    settings = _assign(Settings(keys=Keys("", "", "")), values)
    settings = replace(settings, data_dir=settings.data_dir.resolve())
    if not env.get("PUBLIC_BASE_URL"):
        settings = replace(settings, public_base_url=served_url(settings.host, settings.port))
    settings = replace(settings, keys=_keys(env, settings.mode, settings.data_dir, persist_dev_keys))
    check(settings)
    return settings


def override(settings: Settings, env: Mapping[str, str]) -> Settings:
    """`settings` with these variables set as the environment would set them (checked the same way); an
    empty value restores the default. For tools and tests that vary one setting."""
    unknown = sorted(set(env) - {v.name for v in variables()})
    if unknown:
        raise SettingsError(f"{unknown[0]}: not a setting")
    if any(v.path[0] == "keys" for v in variables() if v.name in env):
        raise SettingsError("JWT_SECRET, SIGNING_KEY, SEALING_KEY: give the keys to load_settings")
    values, errors = _parse_all(env)
    if errors:
        raise SettingsError("; ".join(errors))
    for v in variables():
        if v.name in env and v.path not in values:
            values[v.path] = v.default
    follows = settings.public_base_url == served_url(settings.host, settings.port)
    settings = _assign(settings, values)
    if not env.get("PUBLIC_BASE_URL") and ("PUBLIC_BASE_URL" in env or follows):
        settings = replace(settings, public_base_url=served_url(settings.host, settings.port))
    settings = replace(settings, data_dir=settings.data_dir.resolve())
    check(settings)
    return settings


def _problems(settings: Settings) -> list[str]:
    """Rules across variables, each as one phrase naming the variable."""
    out = []
    if settings.search_backend == "meilisearch" and not settings.meili_url:
        out.append('SEARCH_BACKEND: "meilisearch" needs MEILI_URL')
    if settings.db_pool_max < settings.db_pool_min:
        out.append(f"DB_POOL_MAX: must be at least DB_POOL_MIN ({settings.db_pool_min}), "
                   f"got {_quote(str(settings.db_pool_max))}")
    if bool(settings.smtp_username) != bool(settings.smtp_password):
        out.append("SMTP_USERNAME, SMTP_PASSWORD: give both or neither")
    a = settings.auction
    if a.soft_close_seconds > a.duration_seconds:
        out.append(f"AUCTION_SOFT_CLOSE_SECONDS: must be at most AUCTION_DURATION_SECONDS ({a.duration_seconds}), "
                   f"got {_quote(str(a.soft_close_seconds))}")
    if a.soft_close_seconds > 0 and a.extension_seconds == 0:
        out.append("AUCTION_EXTENSION_SECONDS: must be above 0 while AUCTION_SOFT_CLOSE_SECONDS is, got \"0\"")
    if a.min_decrement_cents == 0 and a.min_decrement_percent == 0:
        out.append("AUCTION_MIN_DECREMENT_CENTS, AUCTION_MIN_DECREMENT_PERCENT: at least one must be above 0")
    k = settings.keys
    if k.signing_key:
        try:
            k.signing_private_key()
        except Exception:
            out.append("SIGNING_KEY: must be a raw Ed25519 private key (32 bytes, urlsafe base64)")
    if k.sealing_key:
        try:
            if len(k.sealing_key_bytes()) != 32:
                raise ValueError
        except Exception:
            out.append("SEALING_KEY: must be 32 random bytes, urlsafe base64")
    return out


def _check_training(settings: Settings) -> None:
    """Production is MODE=production, so one deployment is never both; training mode also refuses what only
    production has: a live Stripe key (real money) and keys given as production gives them."""
    problems = []
    if settings.stripe_secret_key and settings.stripe_secret_key.startswith(("sk_live_", "rk_live_")):
        problems.append("STRIPE_SECRET_KEY is a live key (real payments)")
    if settings.keys.jwt_secret and not settings.keys.jwt_secret.startswith(DEV_MARKER):
        problems.append("JWT_SECRET, SIGNING_KEY, SEALING_KEY are given (production keys; training generates its"
                        " own)")
    if problems:
        raise SettingsError("training mode refused: " + "; ".join(problems))


def check(settings: Settings) -> None:
    """Refuse combinations that must never run (one line), then production's unsafe settings (one line)."""
    problems = _problems(settings)
    if problems:
        raise SettingsError("; ".join(problems))
    if settings.training:
        _check_training(settings)
    if not settings.production:
        return
    k = settings.keys
    if k.jwt_secret.startswith(DEV_MARKER) or len(k.jwt_secret) < 32:
        problems.append("JWT_SECRET must be a real secret of at least 32 characters")
    if not settings.database_url:
        problems.append("DATABASE_URL is required (the embedded database is for development only)")
    if not settings.redis_url:
        problems.append("REDIS_URL is required (the embedded Redis is for development only)")
    if settings.stripe_secret_key and settings.stripe_secret_key.startswith("sk_test_"):
        problems.append("STRIPE_SECRET_KEY is a test key")
    if settings.smtp_password and settings.smtp_security == "none":
        problems.append("SMTP_PASSWORD would cross the network in clear: set SMTP_SECURITY to starttls or tls")
    if problems:
        raise SettingsError("production mode refused: " + "; ".join(problems))
