"""The payments fixtures (the local Stripe server, settings pointing at it) for the drills too."""

from tests.payments.conftest import pay_settings, stripe_server  # noqa: F401 (fixtures)
