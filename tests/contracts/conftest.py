from tests.payments.conftest import pay_settings, stripe_server  # noqa: F401  (shared fixtures)
