"""Ed25519 checkpoint signatures (DESIGN §6), pure: no settings, no I/O.

A checkpoint is ``{tenantId, treeSize, rootHash, timestamp}``; its signature is
``base64(Ed25519(JCS(those four fields)))``. Which keys sign and which verify is configuration:
:mod:`ledger.keys`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.hashing import canonical_json

ALGORITHM = "Ed25519"


class BadKey(ValueError):
    """A key that is not an Ed25519 key in one of the accepted encodings."""


def parse_private_key(value: str) -> Ed25519PrivateKey:
    """Base64 of the raw 32-byte key, or a PEM (PKCS#8) Ed25519 private key."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise BadKey("a PEM key but not an Ed25519 one")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadKey("must be base64 (32 raw bytes) or PEM") from None
    if len(raw) != 32:
        raise BadKey(f"decodes to {len(raw)} bytes, expected 32")
    return Ed25519PrivateKey.from_private_bytes(raw)


def new_private_key_b64() -> str:
    """A fresh key, base64 of its 32 raw bytes (the form ``MAESTRO_LEDGER_SIGNING_KEY`` takes)."""
    raw = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                     serialization.NoEncryption())
    return base64.b64encode(raw).decode()


def public_key_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(raw_public: bytes) -> str:
    """A short, stable name for a public key (stored with each checkpoint)."""
    return hashlib.sha256(raw_public).hexdigest()[:16]


def checkpoint_message(*, tenant_id: int, tree_size: int, root_hash: str, timestamp: str) -> bytes:
    return canonical_json({"tenantId": tenant_id, "treeSize": tree_size, "rootHash": root_hash,
                           "timestamp": timestamp})


def sign_checkpoint(key: Ed25519PrivateKey, *, tenant_id: int, tree_size: int, root_hash: str,
                    timestamp: str) -> tuple[str, str]:
    """Returns ``(signature base64, key id)``."""
    message = checkpoint_message(tenant_id=tenant_id, tree_size=tree_size, root_hash=root_hash, timestamp=timestamp)
    return base64.b64encode(key.sign(message)).decode(), key_id(public_key_raw(key.public_key()))


def verify_checkpoint(checkpoint: Mapping[str, Any], keys: Iterable[Ed25519PublicKey]) -> bool:
    """``checkpoint`` in its API shape (camelCase, with ``signature``): does one of ``keys``
    verify it."""
    try:
        message = checkpoint_message(tenant_id=checkpoint["tenantId"], tree_size=checkpoint["treeSize"],
                                     root_hash=checkpoint["rootHash"], timestamp=checkpoint["timestamp"])
        signature = base64.b64decode(checkpoint["signature"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return False
    for key in keys:
        try:
            key.verify(signature, message)
            return True
        except InvalidSignature:
            continue
    return False
