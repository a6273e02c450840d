"""The Stripe client, built from Settings (never a module-level api_key), and webhook verification.

STRIPE_API_BASE points every `client.v1.*` call somewhere else than api.stripe.com (the tests' recorded-
response server). The `*_async` calls need an async HTTP client: stripe.HTTPXClient.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import stripe

from marketplace.core.errors import Unavailable
from marketplace.core.i18n import N_
from marketplace.settings import Settings


class PaymentsNotConfigured(Unavailable):
    """503: a payment through Stripe was asked for, but the settings it needs are missing. Nothing is written
    (the request's transaction rolls back); the problem names the settings in `missing_settings`."""

    type = "payments-not-configured"
    title = N_("Payments are not configured")


# Paying through Stripe needs both: the key to call its API, and the webhook secret to learn that the
# money moved (without it a PaymentIntent would stay 'pending' for ever).
REQUIRED_SETTINGS = (("STRIPE_SECRET_KEY", "stripe_secret_key"), ("STRIPE_WEBHOOK_SECRET", "stripe_webhook_secret"))


def missing_settings(settings: Settings) -> list[str]:
    """The environment variables Stripe payments need that are not set (none: payments are configured)."""
    return [env for env, attr in REQUIRED_SETTINGS if not getattr(settings, attr)]


def require_configured(settings: Settings) -> None:
    """Refuse at once (503 payments-not-configured, naming what is missing) a payment that cannot be made."""
    missing = missing_settings(settings)
    if missing:
        raise PaymentsNotConfigured(N_("Payments through Stripe need these settings, which are not set: {settings}"),
                                    params={"settings": ", ".join(missing)}, missing_settings=missing)


# The reasons a payment fails on our side, stored in `failure_reason` as message ids (English) and shown in
# the reader's language; Stripe's own messages are stored as Stripe wrote them.
NOT_CONFIGURED_REASON = {
    ("STRIPE_SECRET_KEY",): N_("Payments are not configured: STRIPE_SECRET_KEY is not set"),
    ("STRIPE_WEBHOOK_SECRET",): N_("Payments are not configured: STRIPE_WEBHOOK_SECRET is not set"),
    ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        N_("Payments are not configured: STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are not set"),
}
KEY_REFUSED_REASON = N_("Stripe refused the platform's key (STRIPE_SECRET_KEY)")

# Stripe's own default (300 s). Passed explicitly: a falsy tolerance silently disables the replay check.
WEBHOOK_TOLERANCE: int = stripe.Webhook.DEFAULT_TOLERANCE
assert WEBHOOK_TOLERANCE > 0

_clients: dict[tuple[str, str | None, int], stripe.StripeClient] = {}


def client(settings: Settings) -> stripe.StripeClient:
    """A StripeClient for this event loop (httpx connections belong to the loop that opened them)."""
    if not settings.stripe_secret_key:
        raise PaymentsNotConfigured(N_("Payments through Stripe need these settings, which are not set: {settings}"),
                                    params={"settings": "STRIPE_SECRET_KEY"}, missing_settings=["STRIPE_SECRET_KEY"])
    loop_id = id(asyncio.get_running_loop())
    key = (settings.stripe_secret_key, settings.stripe_api_base, loop_id)
    found = _clients.get(key)
    if found is None:
        base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        found = stripe.StripeClient(
            settings.stripe_secret_key,
            base_addresses=base,  # type: ignore[arg-type]
            http_client=stripe.HTTPXClient(timeout=20),
            max_network_retries=2,  # retries reuse our idempotency key
        )
        _clients[key] = found
    return found


def as_dict(obj: Any) -> dict[str, Any]:
    """A StripeObject (or a dict) as plain JSON data."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    return dict(obj)


class BadSignature(Exception):
    pass


def verify_webhook(payload: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    """Check the Stripe-Signature header over the raw body (default tolerance) and return the event.

    Raises BadSignature for a missing, forged or stale signature and ValueError for a body that is no
    Stripe event.
    """
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=WEBHOOK_TOLERANCE)
    except stripe.SignatureVerificationError as exc:
        raise BadSignature(str(exc)) from exc
    try:
        event = msgspec.json.decode(payload)
    except msgspec.DecodeError as exc:
        raise ValueError("the body is not JSON") from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not isinstance(
        event.get("type"), str
    ) or not isinstance((event.get("data") or {}).get("object"), dict):
        raise ValueError("the body is not a Stripe event")
    return event
