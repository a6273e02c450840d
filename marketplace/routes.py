"""Every domain's route handlers, gathered for the app factory. One line per domain."""

from __future__ import annotations

from typing import Any


def route_handlers() -> list[Any]:
    from marketplace.core import health
    from marketplace.core.auth import api as auth_api

    handlers: list[Any] = [*health.ROUTES, *auth_api.ROUTES]
    handlers += __import__("marketplace.agencies.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("marketplace.core.audit_api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("suppliers.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("marketplace.orders.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("marketplace.payments.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("marketplace.contracts.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("tenders.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("tenders.bids.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("tenders.evaluation.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("tenders.awards.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("search.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("tenders.auctions.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("marketplace.oversight.api", fromlist=["ROUTES"]).ROUTES
    handlers += __import__("marketplace.portal.api", fromlist=["ROUTES"]).ROUTES
    return handlers
