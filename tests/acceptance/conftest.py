"""Acceptance fixtures: the local Stripe server and settings pointing at it (from the payments tests)."""

from tests.payments.conftest import pay_settings, stripe_server  # noqa: F401  (shared fixtures)
