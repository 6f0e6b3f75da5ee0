"""Ed25519 checkpoint signing (DESIGN §6).

A checkpoint is ``{tenantId, treeSize, rootHash, timestamp}``; its signature is
``base64(Ed25519(JCS(those four fields)))``. The key comes from ``MAESTRO_LEDGER_SIGNING_KEY``
(base64 of the 32 raw private-key bytes, or PEM). Without it, dev and test generate one once
into ``var/ledger_signing_key`` (mode 0600); production refuses to start (settings).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ledger.hashing import canonical_json

ALGORITHM = "Ed25519"


def parse_private_key(value: str) -> Ed25519PrivateKey:
    """Base64 of the raw 32-byte key, or a PEM (PKCS#8) Ed25519 private key."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ImproperlyConfigured("MAESTRO_LEDGER_SIGNING_KEY is a PEM key but not an Ed25519 one")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured("MAESTRO_LEDGER_SIGNING_KEY must be base64 (32 raw bytes) or PEM") from None
    if len(raw) != 32:
        raise ImproperlyConfigured(f"MAESTRO_LEDGER_SIGNING_KEY decodes to {len(raw)} bytes, expected 32")
    return Ed25519PrivateKey.from_private_bytes(raw)


def _dev_key(path: Path) -> str:
    """Create the key file atomically (write a temp file, hard-link it into place) so two
    processes starting together end up with the same key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, base64.b64encode(raw) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text()


@functools.cache
def signing_key() -> Ed25519PrivateKey:
    configured = settings.MAESTRO_LEDGER_SIGNING_KEY
    if configured:
        return parse_private_key(configured)
    if settings.MAESTRO_ENV == "production":
        raise ImproperlyConfigured("MAESTRO_LEDGER_SIGNING_KEY must be set in production")
    return parse_private_key(_dev_key(Path(settings.MAESTRO_LEDGER_SIGNING_KEY_FILE)))


def public_key_raw(key: Ed25519PublicKey | None = None) -> bytes:
    key = key or signing_key().public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64() -> str:
    return base64.b64encode(public_key_raw()).decode()


def key_id(raw_public: bytes) -> str:
    """A short, stable name for a public key (stored with each checkpoint)."""
    return hashlib.sha256(raw_public).hexdigest()[:16]


def checkpoint_message(*, tenant_id: int, tree_size: int, root_hash: str, timestamp: str) -> bytes:
    return canonical_json({"tenantId": tenant_id, "treeSize": tree_size, "rootHash": root_hash,
                           "timestamp": timestamp})


def sign_checkpoint(*, tenant_id: int, tree_size: int, root_hash: str, timestamp: str) -> tuple[str, str]:
    """Returns ``(signature base64, key id)``."""
    key = signing_key()
    message = checkpoint_message(tenant_id=tenant_id, tree_size=tree_size, root_hash=root_hash, timestamp=timestamp)
    return base64.b64encode(key.sign(message)).decode(), key_id(public_key_raw(key.public_key()))


@functools.cache
def trusted_public_keys() -> dict[str, Ed25519PublicKey]:
    """The current key plus retired ones (``MAESTRO_LEDGER_TRUSTED_PUBLIC_KEYS``), by key id."""
    keys = {key_id(public_key_raw()): signing_key().public_key()}
    for b64 in settings.MAESTRO_LEDGER_TRUSTED_PUBLIC_KEYS:
        raw = base64.b64decode(b64)
        keys[key_id(raw)] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def verify_checkpoint(checkpoint: dict[str, Any], public_key: Ed25519PublicKey | None = None) -> bool:
    """``checkpoint`` in its API shape (camelCase, with ``signature``). Without an explicit key,
    any trusted key verifies."""
    try:
        message = checkpoint_message(tenant_id=checkpoint["tenantId"], tree_size=checkpoint["treeSize"],
                                     root_hash=checkpoint["rootHash"], timestamp=checkpoint["timestamp"])
        signature = base64.b64decode(checkpoint["signature"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return False
    candidates = [public_key] if public_key is not None else list(trusted_public_keys().values())
    for key in candidates:
        try:
            key.verify(signature, message)
            return True
        except InvalidSignature:
            continue
    return False
