"""The default auction policy, built from Settings (settings.auction: the AUCTION_* variables, README).

An officer may override any field when scheduling; the auction keeps the policy it was scheduled with.
"""

from __future__ import annotations

from dataclasses import asdict

from marketplace.settings import Settings
from tenders.auctions.domain import AuctionPolicy


def of(settings: Settings) -> AuctionPolicy:
    """The default policy these settings describe (checked at start-up against the same ranges)."""
    return AuctionPolicy(**asdict(settings.auction))
