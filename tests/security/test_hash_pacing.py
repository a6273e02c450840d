"""Hashes are paced (PASSWORD_HASH_PER_SECOND): a storm of sign-ins cannot start more Argon2 hashes a second
than the setting, whatever their priority, because each hash's memory traffic slows the bids (issue 17, 1).
The pacer runs on a clock the test gives it: no sleeps, no timing."""

from __future__ import annotations

import pytest

from marketplace.core.auth import passwords
from marketplace.core.auth import service as auth
from marketplace.settings import load_settings


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_hashes_start_at_most_per_second_apart():
    clock = Clock()
    pacer = passwords.Pacer(2, now=clock)
    # Three sign-ins at once: the first hashes now, the next two wait for their half-second slots.
    assert [pacer.wait() for _ in range(3)] == [0.0, 0.5, 1.0]
    clock.t += 1.25  # the third's slot (t+1.0) has come; the next free slot is t+1.5
    assert pacer.wait() == pytest.approx(0.25)
    clock.t += 10  # a quiet spell does not bank slots for a burst
    assert [pacer.wait() for _ in range(2)] == [0.0, 0.5]


def test_zero_turns_pacing_off():
    pacer = passwords.Pacer(0, now=Clock())
    assert [pacer.wait() for _ in range(5)] == [0.0] * 5


async def test_the_setting_reaches_the_process_hasher(client, settings):
    assert load_settings({}, persist_dev_keys=False).security.password_hash_per_second == 1  # the default
    # The app's start-up (the client's) configured the hasher from these Settings (tests turn pacing off).
    assert passwords.hasher().per_second == settings.security.password_hash_per_second == 0
    before = passwords.hasher()
    try:
        hasher = passwords.configure(before.workers, before.queue, before.niceness, before.idle, 4)
        assert hasher.per_second == 4 and hasher.pacer.interval == 0.25
    finally:
        passwords.configure(before.workers, before.queue, before.niceness, before.idle, before.per_second)


async def test_only_real_hashes_wait_for_a_slot(client):
    """A stand-in that hashes nothing (the demo seed's shared password) runs on the hashing threads without
    pacing; a real hash takes a slot. Seen on the pacer's slots, not on a clock."""
    before = passwords.hasher()
    try:
        hasher = passwords.configure(before.workers, before.queue, before.niceness, before.idle, 1)
        clock = Clock()
        hasher.pacer = passwords.Pacer(1, now=clock)
        assert await passwords.run(lambda: "cached") == "cached"
        assert hasher.pacer.wait() == 0.0  # the stand-in took no slot: the first is still free
        clock.t += 1  # that slot's second has passed
        await auth.hash_password_off_loop("una clave larga 123")  # a real hash takes the next slot...
        assert hasher.pacer.wait() == 1.0  # ...so the one after it waits a second
    finally:
        passwords.configure(before.workers, before.queue, before.niceness, before.idle, before.per_second)
