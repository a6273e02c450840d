"""Settings, read once from the environment, frozen, injected.

Every setting is documented in README.md (Settings). Development mode fills in what is missing with safe
local defaults and generates its own keys, kept in the data folder so they survive restarts; production
mode refuses to start without real ones.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class SettingsError(RuntimeError):
    """The environment does not describe a service that may start."""


# Values that only development may run with. Production refuses them.
DEV_MARKER = "dev-"


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
    """Secret material. Never logged (repr hides it)."""

    jwt_secret: str = field(repr=False)
    signing_key: str = field(repr=False)  # Ed25519 private key, raw 32 bytes, urlsafe base64
    sealing_key: str = field(repr=False)  # AES-256 key-encryption key for sealed bids, urlsafe base64

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


@dataclass(frozen=True, slots=True)
class Settings:
    mode: str = "development"
    database_url: str | None = None
    database_replica_url: str | None = None
    redis_url: str | None = None
    meili_url: str | None = None
    meili_api_key: str | None = field(default=None, repr=False)
    search_backend: str = "auto"  # auto | postgres | meilisearch (auto: Meilisearch when MEILI_URL is set)
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_base: str | None = None
    keys: Keys = field(default_factory=Keys.generate, repr=False)
    signing_key_id: str = "ma-1"
    ocid_prefix: str = "ocds-ma0000-"
    default_locale: str = "es_PE"
    data_dir: Path = Path(".data")
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_ttl_seconds: int = 900
    db_pool_min: int = 2
    db_pool_max: int = 20
    run_worker_in_process: bool = False
    registry_fee_cents: int = 10_000  # the supplier registry fee, in céntimos
    appeal_bond_percent: Decimal = Decimal("3")  # appeal bond: % of the lot's estimated value
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "no-responder@mercado-abierto.pe"
    public_base_url: str = "http://127.0.0.1:8000"
    audit_checkpoint_every: int = 1000  # sign the audit chain's head every N events...
    audit_checkpoint_seconds: int = 300  # ...or every T seconds, whichever comes first
    outbox_retention_days: int = 7  # outbox rows every consumer has passed are deleted after this
    # Oversight thresholds: raw values, "" for the default; parsed and checked by marketplace.oversight.policy
    redflag_min_submission_days: str = ""  # method=days,... shortest time from publication to the deadline
    redflag_late_bid_minutes: str = ""  # a winning bid this close to the deadline, after every other (60)
    redflag_rare_winner_min_bids: str = ""  # bids before a bidder's win rate is judged (10)
    redflag_rare_winner_max_rate: str = ""  # ...flagged at this win rate or less (0.05)
    redflag_disqualify_min_bids: str = ""  # opened bids before an agency's disqualification rate is judged (10)
    redflag_disqualify_max_rate: str = ""  # ...flagged above this rate (0.30)
    redflag_max_families: str = ""  # a supplier winning in this many classification families or more (5)
    redflag_amendment_max_pct: str = ""  # contract value raised by amendments above this % (20)
    redflag_gap_min_sample: str = ""  # awarded lots needed before the price gap fence is used (8)
    stage_limit_days: str = ""  # stage=days,... alarm when a tender stays longer in a stage

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _decimal(env: Mapping[str, str], name: str, default: str) -> Decimal:
    raw = env.get(name) or default
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise SettingsError(f"{name} must be a decimal number, got {raw!r}") from exc


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


def load_settings(env: Mapping[str, str] | None = None, *, persist_dev_keys: bool = True) -> Settings:
    """Build Settings from the environment. Production mode checks every secret."""
    env = os.environ if env is None else env
    mode = env.get("MODE", "development").strip().lower()
    if mode not in ("development", "production"):
        raise SettingsError(f"MODE must be 'development' or 'production', got {mode!r}")
    data_dir = Path(env.get("DATA_DIR") or ".data").resolve()

    given = {
        "jwt_secret": env.get("JWT_SECRET", ""),
        "signing_key": env.get("SIGNING_KEY", ""),
        "sealing_key": env.get("SEALING_KEY", ""),
    }
    if all(given.values()):
        keys = Keys(**given)
    elif mode == "production":
        missing = [name.upper() for name, value in given.items() if not value]
        raise SettingsError(f"production mode needs real keys; missing: {', '.join(missing)}")
    elif persist_dev_keys:
        keys = _load_or_create_dev_keys(data_dir)
    else:
        keys = Keys.generate()

    settings = Settings(
        mode=mode,
        database_url=env.get("DATABASE_URL") or None,
        database_replica_url=env.get("DATABASE_REPLICA_URL") or None,
        redis_url=env.get("REDIS_URL") or None,
        meili_url=env.get("MEILI_URL") or None,
        meili_api_key=env.get("MEILI_API_KEY") or None,
        search_backend=(env.get("SEARCH_BACKEND") or "auto").strip().lower(),
        stripe_secret_key=env.get("STRIPE_SECRET_KEY") or None,
        stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
        stripe_api_base=env.get("STRIPE_API_BASE") or None,
        keys=keys,
        signing_key_id=env.get("SIGNING_KEY_ID") or "ma-1",
        ocid_prefix=env.get("OCID_PREFIX") or "ocds-ma0000-",
        default_locale=env.get("DEFAULT_LOCALE") or "es_PE",
        data_dir=data_dir,
        host=env.get("HOST") or "127.0.0.1",
        port=_int(env, "PORT", 8000),
        jwt_ttl_seconds=_int(env, "JWT_TTL_SECONDS", 900),
        db_pool_min=_int(env, "DB_POOL_MIN", 2),
        db_pool_max=_int(env, "DB_POOL_MAX", 20),
        registry_fee_cents=_int(env, "REGISTRY_FEE_CENTS", 10_000),
        appeal_bond_percent=_decimal(env, "APPEAL_BOND_PERCENT", "3"),
        run_worker_in_process=(env.get("RUN_WORKER_IN_PROCESS") or "").strip().lower() in ("1", "true", "yes"),
        smtp_host=env.get("SMTP_HOST") or None,
        smtp_port=_int(env, "SMTP_PORT", 25),
        mail_from=env.get("MAIL_FROM") or "no-responder@mercado-abierto.pe",
        public_base_url=env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8000",
        audit_checkpoint_every=_int(env, "AUDIT_CHECKPOINT_EVERY", 1000),
        audit_checkpoint_seconds=_int(env, "AUDIT_CHECKPOINT_SECONDS", 300),
        outbox_retention_days=_int(env, "OUTBOX_RETENTION_DAYS", 7),
        redflag_min_submission_days=env.get("REDFLAG_MIN_SUBMISSION_DAYS") or "",
        redflag_late_bid_minutes=env.get("REDFLAG_LATE_BID_MINUTES") or "",
        redflag_rare_winner_min_bids=env.get("REDFLAG_RARE_WINNER_MIN_BIDS") or "",
        redflag_rare_winner_max_rate=env.get("REDFLAG_RARE_WINNER_MAX_RATE") or "",
        redflag_disqualify_min_bids=env.get("REDFLAG_DISQUALIFY_MIN_BIDS") or "",
        redflag_disqualify_max_rate=env.get("REDFLAG_DISQUALIFY_MAX_RATE") or "",
        redflag_max_families=env.get("REDFLAG_MAX_FAMILIES") or "",
        redflag_amendment_max_pct=env.get("REDFLAG_AMENDMENT_MAX_PCT") or "",
        redflag_gap_min_sample=env.get("REDFLAG_GAP_MIN_SAMPLE") or "",
        stage_limit_days=env.get("STAGE_LIMIT_DAYS") or "",
    )
    check(settings)
    return settings


def check(settings: Settings) -> None:
    """Refuse combinations that must never run."""
    if settings.search_backend not in ("auto", "postgres", "meilisearch"):
        raise SettingsError("SEARCH_BACKEND must be auto, postgres or meilisearch")
    if settings.search_backend == "meilisearch" and not settings.meili_url:
        raise SettingsError("SEARCH_BACKEND=meilisearch needs MEILI_URL")
    if settings.registry_fee_cents < 1 or not Decimal(0) <= settings.appeal_bond_percent <= Decimal(100):
        raise SettingsError("REGISTRY_FEE_CENTS must be >= 1 and APPEAL_BOND_PERCENT in [0, 100]")
    if settings.db_pool_min < 1 or settings.db_pool_max < settings.db_pool_min:
        raise SettingsError("DB_POOL_MIN must be >= 1 and DB_POOL_MAX >= DB_POOL_MIN")
    if settings.audit_checkpoint_every < 1 or settings.audit_checkpoint_seconds < 1:
        raise SettingsError("AUDIT_CHECKPOINT_EVERY and AUDIT_CHECKPOINT_SECONDS must be >= 1")
    if settings.outbox_retention_days < 1:
        raise SettingsError("OUTBOX_RETENTION_DAYS must be >= 1")
    from marketplace.oversight import policy  # raises SettingsError naming a bad REDFLAG_* / STAGE_LIMIT_DAYS

    policy.of(settings)
    if not settings.production:
        return
    problems = []
    k = settings.keys
    if k.jwt_secret.startswith(DEV_MARKER) or len(k.jwt_secret) < 32:
        problems.append("JWT_SECRET must be a real secret of at least 32 characters")
    try:
        k.signing_private_key()
    except Exception:
        problems.append("SIGNING_KEY must be a raw Ed25519 private key (32 bytes, urlsafe base64)")
    try:
        if len(k.sealing_key_bytes()) != 32:
            raise ValueError
    except Exception:
        problems.append("SEALING_KEY must be 32 random bytes, urlsafe base64")
    if not settings.database_url:
        problems.append("DATABASE_URL is required (the embedded database is for development only)")
    if not settings.redis_url:
        problems.append("REDIS_URL is required (the embedded Redis is for development only)")
    if settings.stripe_secret_key and settings.stripe_secret_key.startswith("sk_test_"):
        problems.append("STRIPE_SECRET_KEY is a test key")
    if problems:
        raise SettingsError("production mode refused: " + "; ".join(problems))
