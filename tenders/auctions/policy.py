"""The default auction policy, from the environment (read once per process).

Environment (all optional; defaults in brackets):

    AUCTION_DURATION_SECONDS        the bidding window [600]
    AUCTION_MIN_DECREMENT_CENTS     absolute minimum decrement in céntimos [0]
    AUCTION_MIN_DECREMENT_PERCENT   minimum decrement in percent of the price lowered [0.5]
                                    (the larger of the two applies; at least one must be > 0)
    AUCTION_SOFT_CLOSE_SECONDS      a bid in the last N seconds extends the window [120]
    AUCTION_EXTENSION_SECONDS       ... to N seconds after that bid [120]
    AUCTION_MAX_EXTENSIONS          0 for no limit [0]
    AUCTION_MUST_BEAT_BEST          a bid must go below the current best (1) or only below one's own (0) [1]
    AUCTION_AUTO_AWARD              award the lot when the auction closes [1]
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from tenders.auctions.domain import AuctionPolicy


class PolicyError(ValueError):
    """The environment describes an invalid auction policy (raised at start-up, naming the variable)."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise PolicyError(f"{name} must be an integer, got {raw!r}") from exc


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in ("1", "0", "true", "false", "yes", "no"):
        raise PolicyError(f"{name} must be 1 or 0, got {raw!r}")
    return raw in ("1", "true", "yes")


def policy_from_env(env: Mapping[str, str] | None = None) -> AuctionPolicy:
    env = os.environ if env is None else env
    raw_pct = env.get("AUCTION_MIN_DECREMENT_PERCENT") or "0.5"
    try:
        pct = Decimal(raw_pct)
    except InvalidOperation as exc:
        raise PolicyError(f"AUCTION_MIN_DECREMENT_PERCENT must be a number, got {raw_pct!r}") from exc
    p = AuctionPolicy(
        duration_seconds=_int(env, "AUCTION_DURATION_SECONDS", 600),
        min_decrement_cents=_int(env, "AUCTION_MIN_DECREMENT_CENTS", 0),
        min_decrement_percent=pct,
        soft_close_seconds=_int(env, "AUCTION_SOFT_CLOSE_SECONDS", 120),
        extension_seconds=_int(env, "AUCTION_EXTENSION_SECONDS", 120),
        max_extensions=_int(env, "AUCTION_MAX_EXTENSIONS", 0),
        must_beat_best=_bool(env, "AUCTION_MUST_BEAT_BEST", True),
        auto_award=_bool(env, "AUCTION_AUTO_AWARD", True),
    )
    problems = p.problems()
    if problems:
        raise PolicyError("invalid auction policy: " + ", ".join(f"{f} ({r})" for f, r in problems))
    return p


@functools.cache
def current() -> AuctionPolicy:
    return policy_from_env()
