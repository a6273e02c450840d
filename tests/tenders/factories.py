"""Tenders for tests: drafts, published, tendering and opened tenders over HTTP, and long-lived logins.

Timelines are relative to the clock in force (use the `fixed_clock` fixture and move it). Tokens here live
100 days, so moving the clock past a deadline does not sign anyone out.

    from tests.tenders import factories as tf
    officer = await tf.officer(settings)
    supplier = await tf.supplier(settings, ubigeo="080101")
    tender = await tf.published(client, officer)               # enquiries running
    await tf.to_tendering(fixed_clock, tender)                  # the enquiry period is over
    receipt = await tf.bid(client, supplier, tender, prices=[120_000_00])
    opening = await tf.opened(client, fixed_clock, officer, tender)
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from marketplace.core import clock
from marketplace.core.auth import tokens
from tests import factories
from tests.factories import Login

LONG_TTL = 100 * 86400


def long_lived(settings, login: Login) -> Login:
    token, _ = tokens.issue(secret=settings.keys.jwt_secret, ttl_seconds=LONG_TTL, user_id=login.user_id,
                            org_id=login.org_id, org_kind=login.kind, roles=list(login.roles))
    return dataclasses.replace(login, token=token)


# The opening takes a quorum of two distinct people of the agency: each officer made here comes with a
# committee member of the same agency (its colleague), who confirms the opening with it (`opened`).
_colleagues: dict[Any, Login] = {}


async def officer(settings, *, org_id=None, roles=("officer",)) -> Login:
    made = long_lived(settings, await factories.login(settings, "agency", *roles, org_id=org_id))
    _colleagues[made.user_id] = long_lived(settings, await factories.login(settings, "agency", "committee",
                                                                            org_id=made.org_id))
    return made


def colleague(officer: Login) -> Login:
    """The committee member of the officer's agency made with it by `officer()`."""
    return _colleagues[officer.user_id]


async def supplier(settings, **kw) -> Login:
    from tests.suppliers.factories import registered_supplier

    return long_lived(settings, await registered_supplier(settings, **kw))


def lot(**over: Any) -> dict[str, Any]:
    """A lot as the API takes it; `estimated_value` may be given in céntimos (an int) for short."""
    base = {"title": "Cemento Portland tipo I", "estimated_value": {"amount": 150_000_00, "currency": "PEN"},
            "classification_scheme": "UNSPSC", "classification_code": "30111601", "quantity": "1200", "unit": "bolsa",
            "delivery_ubigeo": "080101"}
    if isinstance(over.get("estimated_value"), int):
        over = {**over, "estimated_value": {"amount": over["estimated_value"], "currency": "PEN"}}
    return {**base, **over}


def draft_payload(*, lots: int | list = 1, method: str = "simplified_award", category: str = "goods",
                  **over: Any) -> dict[str, Any]:
    now = clock.now()
    deadline = now + timedelta(days=10)
    base = {
        "title": "Adquisición de cemento para obras de saneamiento",
        "description": "Bolsas de 42.5 kg, entrega en almacén central.",
        "method": method, "category": category,
        "enquiry_end": (now + timedelta(days=4)).isoformat(),
        "submission_deadline": deadline.isoformat(),
        "opening_time": (deadline + timedelta(hours=1)).isoformat(),
        "lots": lots if isinstance(lots, list) else [lot(title=f"Lote {i + 1}") for i in range(lots)],
    }
    return {**base, **over}


async def draft(client, officer: Login, **over: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/tenders", json=draft_payload(**over), headers=officer.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def published(client, officer: Login, **over: Any) -> dict[str, Any]:
    t = await draft(client, officer, **over)
    r = await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=officer.headers)
    assert r.status_code == 200, r.text
    return r.json()


def to_tendering(fixed_clock, tender: dict[str, Any]) -> None:
    """Move the clock just past the enquiry period (bids are received from then on)."""
    from datetime import datetime

    fixed_clock.set(datetime.fromisoformat(tender["enquiry_end"]) + timedelta(minutes=1))


def at_opening_time(fixed_clock, tender: dict[str, Any], **delta: float) -> None:
    """Move the clock just past the announced opening time (bids may be opened from then on)."""
    from datetime import datetime

    fixed_clock.set(datetime.fromisoformat(tender["opening_time"]) + timedelta(**(delta or {"seconds": 1})))


def past_deadline(fixed_clock, tender: dict[str, Any], **delta: float) -> None:
    from datetime import datetime

    fixed_clock.set(datetime.fromisoformat(tender["submission_deadline"]) + timedelta(**(delta or {"seconds": 1})))


def bid_payload(tender: dict[str, Any], prices: list[int], **over: Any) -> dict[str, Any]:
    lots = [{"lot_id": lot["id"], "price": {"amount": p}} for lot, p in zip(tender["lots"], prices, strict=False)]
    return {"lots": lots, **over}


async def bid(client, supplier: Login, tender: dict[str, Any], prices: list[int], **over: Any) -> dict[str, Any]:
    r = await client.post(f"/api/v1/tenders/{tender['id']}/bids", json=bid_payload(tender, prices, **over),
                          headers=supplier.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def opened(client, fixed_clock, officer: Login, tender: dict[str, Any]) -> dict[str, Any]:
    """At the opening time, the officer and its colleague (the quorum of two) confirm: the opening record."""
    at_opening_time(fixed_clock, tender)
    return await confirm_opening(client, tender["id"], officer.headers, colleague(officer).headers)


async def confirm_opening(client, tender_id: str, *headers: dict[str, str]) -> dict[str, Any]:
    """Each caller confirms the opening in turn; the last confirmation opens the bids. The opening record."""
    for i, h in enumerate(headers):
        r = await client.post(f"/api/v1/tenders/{tender_id}/opening", headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["opened"] is (i == len(headers) - 1), r.text
    return r.json()["opening"]


async def open_with_quorum(client, settings, p, tender_id: str) -> dict[str, Any]:
    """Open the bids as the owning agency does (`p`: tests.harness personas): the officer and the committee
    member confirm, the quorum of two. Returns the opening record."""
    from tests.tenders.test_evaluation_http import hdr

    return await confirm_opening(client, tender_id, hdr(settings, p.officer), hdr(settings, p.committee))


async def grouped(*waves: list[Awaitable[Any]] | Callable[[], object]) -> list[Any]:
    """Send bid requests with the bid batcher held (tenders/bids/batch.py `Batcher.held`): each wave's requests
    at once, the next wave once every bid sent so far is queued, then release them all together. Up to
    MAX_BATCH bids are stored by one group statement, queued in wave order: no luck of the scheduler decides
    that. A wave may be a function instead, called at that point (move the clock between two waves).
    Returns the responses in the order given."""
    from tenders.bids import batch

    tasks: list[asyncio.Future[Any]] = []
    try:
        with batch.batcher().held() as hold:
            for wave in waves:
                if callable(wave):
                    wave()
                    continue
                tasks.extend(asyncio.ensure_future(request) for request in wave)
                queued = asyncio.ensure_future(hold.queued(len(tasks)))
                done, _ = await asyncio.wait([queued, *tasks], return_when=asyncio.FIRST_COMPLETED)
                if queued not in done:  # a request that never queues its bid answered before the statement
                    queued.cancel()
                    answered = [t.result() for t in tasks if t.done()]
                    raise AssertionError("answered before the bid was queued: "
                                         f"{[(r.status_code, r.text[:300]) for r in answered]}")
    except BaseException:
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return list(await asyncio.gather(*tasks))
