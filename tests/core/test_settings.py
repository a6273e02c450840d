"""Settings: production refuses to start without real secrets; development makes and keeps its own keys."""

from __future__ import annotations

import secrets
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from marketplace.settings import SettingsError, _b64, load_settings


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
