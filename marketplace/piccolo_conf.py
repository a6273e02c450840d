"""piccolo's configuration: the engine (configured at start-up from Settings) and every app."""

from piccolo.conf.apps import AppRegistry

from marketplace.core.db import DB

APP_REGISTRY = AppRegistry(
    apps=[
        "marketplace.core.piccolo_app",
        "suppliers.piccolo_app",
        "marketplace.orders.piccolo_app",
        "search.piccolo_app",
        "marketplace.contracts.piccolo_app",
        "marketplace.payments.piccolo_app",
        "marketplace.agencies.piccolo_app",
        "tenders.piccolo_app",
        "tenders.evaluation.piccolo_app",
        "tenders.awards.piccolo_app",
        "tenders.auctions.piccolo_app",
        "marketplace.oversight.piccolo_app",
    ]
)

__all__ = ["DB", "APP_REGISTRY"]
