"""Payments fixtures: the local Stripe server and settings whose API base points at it."""

from __future__ import annotations

import dataclasses

import pytest

from tests.stripe_server import StripeServer


@pytest.fixture
def stripe_server():
    server = StripeServer().start()
    yield server
    server.stop()


@pytest.fixture
def pay_settings(settings, stripe_server):
    """The app's settings with STRIPE_API_BASE at the local server (jobs take their settings from ctx)."""
    return dataclasses.replace(settings, stripe_api_base=stripe_server.url)
