"""The ledger's keys, from configuration: the checkpoint signing key from
``MAESTRO_LEDGER_SIGNING_KEY`` (base64 of the 32 raw private-key bytes, or PEM) — without it,
dev and test generate one once into ``var/ledger_signing_key`` (mode 0600), production refuses to
start (settings) — and the public keys checkpoints are verified with (the current one and the
retired ``MAESTRO_LEDGER_TRUSTED_PUBLIC_KEYS``)."""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ledger import signing

ALGORITHM = signing.ALGORITHM


def _dev_key(path: Path) -> str:
    """Create the key file atomically (write a temp file, hard-link it into place) so two
    processes starting together end up with the same key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, signing.new_private_key_b64().encode() + b"\n")
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
    if not configured and settings.MAESTRO_ENV == "production":
        raise ImproperlyConfigured("MAESTRO_LEDGER_SIGNING_KEY must be set in production")
    try:
        return signing.parse_private_key(configured or _dev_key(Path(settings.MAESTRO_LEDGER_SIGNING_KEY_FILE)))
    except signing.BadKey as exc:
        raise ImproperlyConfigured(f"MAESTRO_LEDGER_SIGNING_KEY {exc}") from None


def public_key_raw() -> bytes:
    return signing.public_key_raw(signing_key().public_key())


def public_key_b64() -> str:
    return base64.b64encode(public_key_raw()).decode()


def sign_checkpoint(*, tenant_id: int, tree_size: int, root_hash: str, timestamp: str) -> tuple[str, str]:
    """Returns ``(signature base64, key id)`` with the configured key."""
    return signing.sign_checkpoint(signing_key(), tenant_id=tenant_id, tree_size=tree_size, root_hash=root_hash,
                                   timestamp=timestamp)


@functools.cache
def trusted_public_keys() -> dict[str, Ed25519PublicKey]:
    """The current key plus retired ones (``MAESTRO_LEDGER_TRUSTED_PUBLIC_KEYS``), by key id."""
    keys = {signing.key_id(public_key_raw()): signing_key().public_key()}
    for b64 in settings.MAESTRO_LEDGER_TRUSTED_PUBLIC_KEYS:
        raw = base64.b64decode(b64)
        keys[signing.key_id(raw)] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def verify_checkpoint(checkpoint: Mapping[str, Any], public_key: Ed25519PublicKey | None = None) -> bool:
    """Verified by ``public_key``, or else by any trusted key."""
    return signing.verify_checkpoint(checkpoint, [public_key] if public_key else trusted_public_keys().values())
