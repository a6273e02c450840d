"""Rate limits on the endpoints anyone can call with a guess: sign-in and registration (issue 17).

Fixed windows counted in Redis (shared by every process and every app server): one key per rule and
subject, INCR'd and given the window as its expiry by one Lua script, so a count and its expiry are never
apart. A subject over its limit gets 429 problem+json with Retry-After (the seconds left in its window).
The subjects are a client address and a hash of an account's email (the email itself is not kept).

Failed sign-ins lock an account for the rest of the window, from any address, except from the addresses it
signed in from before (`remember`/`known`, kept 30 days): otherwise anyone could lock a competitor out of
signing in just before a deadline by failing on purpose with their email.

Redis down: the limits are not applied (logged), because refusing every sign-in would turn a Redis outage
into a platform outage; the hashing cap (marketplace.core.auth.passwords) still protects the event loop.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from marketplace.core import queue
from marketplace.core.errors import DomainError
from marketplace.core.i18n import N_

log = logging.getLogger(__name__)

PREFIX = "ma:rl:"

# KEYS[1] the counter; ARGV[1] the window (s), ARGV[2] the increment (0: only read). -> {count, ttl}
_SCRIPT = """
local n
if tonumber(ARGV[2]) > 0 then
  n = redis.call('INCRBY', KEYS[1], ARGV[2])
else
  n = tonumber(redis.call('GET', KEYS[1]) or '0')
end
local ttl = redis.call('TTL', KEYS[1])
if n > 0 and ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


class TooManyRequests(DomainError):
    status = 429
    type = "too-many-requests"
    title = N_("Too many requests")


def account_subject(email: str) -> str:
    """The subject of an account's limit: a digest of its email, case-folded (the email is not stored)."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


async def _count(rule: str, subject: str, *, window: int, increment: int) -> tuple[int, int] | None:
    pool = queue.get_pool()
    if pool is None:
        return None
    try:
        script: Any = pool.eval(_SCRIPT, 1, f"{PREFIX}{rule}:{subject}", str(window), str(increment))
        result: Any = await script
    except Exception:  # noqa: BLE001 - fail open, see the module's docstring
        log.warning("rate limit %s not applied: Redis unavailable", rule, exc_info=True)
        return None
    return int(result[0]), max(int(result[1]), 1)


def _refuse(field: str, rule: str, retry_after: int) -> TooManyRequests:
    return TooManyRequests(N_("Too many attempts; try again in {seconds} seconds"), field=field, rule=rule,
                           params={"seconds": retry_after}, headers={"Retry-After": str(retry_after)})


async def hit(rule: str, subject: str, *, limit: int, window: int, field: str = "client") -> None:
    """Count one attempt of `subject` under `rule`; TooManyRequests (429) once it is over `limit` in its window.
    A limit of 0 is no limit."""
    if limit <= 0:
        return
    got = await _count(rule, subject, window=window, increment=1)
    if got is not None and got[0] > limit:
        raise _refuse(field, rule, got[1])


async def check(rule: str, subject: str, *, limit: int, window: int, field: str = "client") -> None:
    """TooManyRequests when `subject` is already at `limit` under `rule` (counts nothing: see `hit`)."""
    if limit <= 0:
        return
    got = await _count(rule, subject, window=window, increment=0)
    if got is not None and got[0] >= limit:
        raise _refuse(field, rule, got[1])


KNOWN_DAYS = 30  # how long an address a user signed in from is remembered


async def remember(account: str, client: str) -> None:
    """`client` signed in to `account`: the account's limit on failures will not lock it out from there."""
    pool = queue.get_pool()
    if pool is None:
        return
    key = f"{PREFIX}known:{account}"
    try:
        pipe: Any = pool.pipeline(transaction=False)
        pipe.sadd(key, client)
        pipe.expire(key, KNOWN_DAYS * 86_400)
        await pipe.execute()
    except Exception:  # noqa: BLE001 - a hint only
        log.warning("could not remember a sign-in address", exc_info=True)


async def known(account: str, client: str) -> bool:
    """Has `client` signed in to `account` before (within KNOWN_DAYS)?"""
    pool = queue.get_pool()
    if pool is None:
        return False
    try:
        found: Any = pool.sismember(f"{PREFIX}known:{account}", client)
        return bool(await found)
    except Exception:  # noqa: BLE001 - unknown, as if Redis said no
        return False


async def reset() -> None:
    """Forget every count (tests start each test with none, as with empty tables)."""
    pool = queue.get_pool()
    if pool is None:
        return
    keys = [key async for key in pool.scan_iter(match=PREFIX + "*", count=1000)]
    if keys:
        await pool.delete(*keys)
