"""marketplace.core.sealing (envelope encryption, signatures) and marketplace.core.idempotency, directly."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from marketplace.core import db, sealing
from marketplace.core.actor import Actor
from marketplace.core.errors import IdempotencyConflict


@hsettings(max_examples=50, deadline=None)
@given(plain=st.binary(max_size=2000), aad=st.binary(max_size=64))
def test_seal_round_trip_and_binding(plain, aad):
    key = sealing.new_data_key()
    sealed = sealing.seal(key, plain, aad=aad)
    assert sealing.unseal(key, sealed, aad=aad) == plain
    assert len(plain) < 8 or plain not in sealed  # a short plaintext may occur in random bytes by chance
    with pytest.raises(sealing.SealError):
        sealing.unseal(key, sealed, aad=aad + b"x")
    with pytest.raises(sealing.SealError):
        sealing.unseal(sealing.new_data_key(), sealed, aad=aad)
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(sealing.SealError):
        sealing.unseal(key, bytes(tampered), aad=aad)


def test_wrapped_keys_are_bound_to_their_context():
    kek = sealing.new_data_key()
    dk = sealing.new_data_key()
    wrapped = sealing.wrap_key(kek, dk, context=b"tender-1")
    assert sealing.unwrap_key(kek, wrapped, context=b"tender-1") == dk
    with pytest.raises(sealing.SealError):
        sealing.unwrap_key(kek, wrapped, context=b"tender-2")
    assert sealing.key_fingerprint(kek) == sealing.key_fingerprint(kek) != sealing.key_fingerprint(dk)


def test_signatures_verify_only_unchanged_fields():
    priv = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    pub = sealing.b64(priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    fields = {"bid_id": "b", "lots": ["2", "1"], "received_at": "2026-11-30T15:00:00.000000Z"}
    sig = sealing.sign(priv, fields)
    assert sealing.verify(pub, dict(reversed(list(fields.items()))), sig)  # key order does not matter
    assert not sealing.verify(pub, {**fields, "bid_id": "c"}, sig)
    raw = bytearray(sealing.unb64(sig))
    raw[0] ^= 0x01  # one bit of R changed (the last characters may carry no signature bits at all)
    assert not sealing.verify(pub, fields, sealing.b64(bytes(raw)))
    assert not sealing.verify(pub, fields, "not base64 !")


async def test_idempotency_claim_store_replay_conflict(client):
    from marketplace.core import idempotency

    actor = Actor(org_id=__import__("uuid").uuid4(), user_id=__import__("uuid").uuid4(), via="jwt")
    async with db.unit_of_work():
        c = await idempotency.claim(actor=actor, route="POST /x", key="k1", request={"a": 1})
        assert c.replay is None
        await c.store(status=201, response={"id": 7})
    async with db.unit_of_work():
        c = await idempotency.claim(actor=actor, route="POST /x", key="k1", request={"a": 1})
        assert c.replay == idempotency.Stored(status=201, response={"id": 7})
    with pytest.raises(IdempotencyConflict):
        async with db.unit_of_work():
            await idempotency.claim(actor=actor, route="POST /x", key="k1", request={"a": 2})
    # another route, or no key: independent
    async with db.unit_of_work():
        assert (await idempotency.claim(actor=actor, route="POST /y", key="k1", request={"a": 2})).replay is None
        assert (await idempotency.claim(actor=actor, route="POST /x", key=None, request={})).key is None
    # keyed fingerprints differ from plain ones and by key
    assert idempotency.request_hash({"p": 1}) != idempotency.request_hash({"p": 1}, b"s1") \
        != idempotency.request_hash({"p": 1}, b"s2")
