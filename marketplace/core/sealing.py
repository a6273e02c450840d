"""Envelope encryption for sealed content, and Ed25519 signatures over canonical JSON.

Sealing (sealed bids): every tender gets its own random 256-bit data key; the data key is stored only
wrapped (AES-256-GCM) by the platform's key-encryption key (`settings.keys.sealing_key_bytes()`, never in
the database). Content is sealed with the data key (AES-256-GCM, a fresh 96-bit nonce per message) and
bound to its context by the associated data (e.g. tender, bid and supplier ids), so a sealed blob moved
to another row no longer opens. Layout of a sealed blob: nonce (12 bytes) || ciphertext+tag.

Signing (receipts, checkpoints): `sign()` is Ed25519 over the canonical JSON of a mapping (keys sorted,
no insignificant whitespace, UTF-8), base64url without padding; `verify()` is its inverse and needs only
the published public key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32

_canonical = msgspec.json.Encoder(order="sorted")


class SealError(Exception):
    """Sealed content that does not open: wrong key, wrong context, or tampered bytes."""


def canonical_json(obj: Any) -> bytes:
    """The canonical JSON bytes of `obj` (sorted keys, compact, UTF-8)."""
    return _canonical.encode(obj)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_fingerprint(key: bytes) -> str:
    """A short public id for a key-encryption key (so a rotated key is recognised), never the key."""
    return "kek-" + hashlib.sha256(b"mercado-abierto kek id\x00" + key).hexdigest()[:16]


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, sealed: bytes, *, aad: bytes = b"") -> bytes:
    if len(sealed) < NONCE_BYTES + 16:
        raise SealError("sealed content is too short")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise SealError("sealed content does not open with this key and context") from exc


def wrap_key(kek: bytes, data_key: bytes, *, context: bytes) -> bytes:
    """`data_key` encrypted by the key-encryption key, bound to `context` (e.g. the tender id)."""
    return seal(kek, data_key, aad=b"wrap\x00" + context)


def unwrap_key(kek: bytes, wrapped: bytes, *, context: bytes) -> bytes:
    return unseal(kek, wrapped, aad=b"wrap\x00" + context)


def sign(private_key: Ed25519PrivateKey, fields: dict[str, Any]) -> str:
    """Ed25519 signature (base64url) over the canonical JSON of `fields`."""
    return b64(private_key.sign(canonical_json(fields)))


def verify(public_key_b64: str, fields: dict[str, Any], signature: str) -> bool:
    """True when `signature` is the signature of `fields` by the public key (raw 32 bytes, base64url)."""
    try:
        Ed25519PublicKey.from_public_bytes(unb64(public_key_b64)).verify(unb64(signature), canonical_json(fields))
        return True
    except (InvalidSignature, ValueError):
        return False
