"""Is a bearer token's user still allowed in? (issue 17, finding 7: tokens were never checked again.)

Every request with a bearer token compares the token's version with its user's `token_version` and checks
that the user is active. Signing out everywhere, disabling a user and changing their roles raise the version
(marketplace.core.auth.service), so every token issued before is refused from then on.

Why an in-process cache and not a read per request: a bid is one statement of its own (the rush's hot
path, tenders/bids); a read of `app_user` per request would add a database round trip to every bid, and a
Redis GET would add a network round trip. Here a user's state is read once per AUTH_RECHECK_SECONDS per
process (concurrent misses for one user share one read) and kept in a dict: the bid path pays one dict
lookup. The process where a change is made forgets that user's state as soon as the change commits, so it
takes effect there at once; every other process (other granian workers, other servers) sees it within
AUTH_RECHECK_SECONDS (default 5 s; 0 reads on every request). That bound is the price; it is documented
in README's Security section.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID

from marketplace.core import db

MAX_USERS = 100_000  # a bound on the cache (cleared when full: the next requests read again)


@dataclass(frozen=True, slots=True)
class UserState:
    version: int
    active: bool


_cache: dict[UUID, tuple[float, UserState | None]] = {}
_reading: dict[UUID, asyncio.Future[UserState | None]] = {}
# When each user was last forgotten: a read that began before is not kept (it may predate the change).
_forgotten_at: dict[UUID, float] = {}


async def _read(user_id: UUID) -> UserState | None:
    row = await db.fetchrow("SELECT token_version, active FROM app_user WHERE id = $1", user_id)
    return None if row is None else UserState(version=row["token_version"], active=row["active"])


async def get(user_id: UUID, max_age: float) -> UserState | None:
    """The user's state, read at most `max_age` seconds ago in this process (None: no such user)."""
    now = time.monotonic()
    cached = _cache.get(user_id)
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    pending = _reading.get(user_id)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future[UserState | None] = asyncio.get_running_loop().create_future()
    _reading[user_id] = future
    try:
        state = await _read(user_id)
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: the waiters re-raise it
        raise
    finally:
        _reading.pop(user_id, None)
    future.set_result(state)
    if len(_cache) >= MAX_USERS:
        _cache.clear()
    if max_age > 0 and _forgotten_at.get(user_id, -1.0) < now:
        _cache[user_id] = (now, state)
    return state


def forget(user_id: UUID) -> None:
    """Read this user's state again at their next request (their token version or standing changed)."""
    _cache.pop(user_id, None)
    if len(_forgotten_at) >= MAX_USERS:
        _forgotten_at.clear()
    _forgotten_at[user_id] = time.monotonic()


def forget_after_commit(user_id: UUID) -> None:
    """`forget(user_id)` once the current unit of work commits (the change is visible to the next read)."""

    async def go() -> None:
        forget(user_id)

    db.after_commit(go)
