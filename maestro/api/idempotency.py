"""``Idempotency-Key`` in the API toolkit: how a write's key is checked and how a stored answer
is replayed. The store itself is the write path's (``maestro.write_path.idempotency``, its
records written in the write's own transaction); it registers itself at start-up, because the
toolkit sits below every app and imports none of them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from maestro.core.exceptions import ValidationFailed

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Stored:
    """The answer a request with this key got the first time."""

    status_code: int
    body: Any
    headers: dict[str, str]


class Claim(Protocol):
    """A key claimed for the request being served."""


class IdempotencyStore(Protocol):
    def claim(self, *, tenant_id: int, key: str, fingerprint: str) -> Claim | Stored: ...

    def store(self, claim: Claim, *, status_code: int, body: Any, headers: dict[str, str]) -> None: ...

    def release(self, claim: Claim) -> None: ...


_store: IdempotencyStore | None = None


def use_store(store: IdempotencyStore) -> None:
    global _store
    _store = store


def store() -> IdempotencyStore:
    if _store is None:
        raise RuntimeError("no idempotency store registered (maestro.write_path registers it when Django starts)")
    return _store


def fingerprint(method: str, path: str, body: Any) -> str:
    """What identifies a request under its key: method, path and canonical JSON body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationFailed(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable ASCII characters",
                               details={"header": "Idempotency-Key"})
    return key
