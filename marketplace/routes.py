"""Every domain's route handlers, gathered for the app factory. One line per domain."""

from __future__ import annotations

from typing import Any

import search.api
import suppliers.api
import tenders.api
import tenders.auctions.api
import tenders.awards.api
import tenders.bids.api
import tenders.evaluation.api
from marketplace.agencies import api as agencies_api
from marketplace.contracts import api as contracts_api
from marketplace.core import audit_api, health
from marketplace.core.auth import api as auth_api
from marketplace.orders import api as orders_api
from marketplace.oversight import api as oversight_api
from marketplace.payments import api as payments_api
from marketplace.portal import api as portal_api


def route_handlers() -> list[Any]:
    return [
        *health.ROUTES,
        *auth_api.ROUTES,
        *agencies_api.ROUTES,
        *audit_api.ROUTES,
        *suppliers.api.ROUTES,
        *orders_api.ROUTES,
        *payments_api.ROUTES,
        *contracts_api.ROUTES,
        *tenders.api.ROUTES,
        *tenders.bids.api.ROUTES,
        *tenders.evaluation.api.ROUTES,
        *tenders.awards.api.ROUTES,
        *search.api.ROUTES,
        *tenders.auctions.api.ROUTES,
        *oversight_api.ROUTES,
        *portal_api.ROUTES,
    ]
