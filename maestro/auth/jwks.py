"""The identity provider's signing keys (its JWKS), as a key set that follows the provider's
rotations: fetched again on a fixed period (``OIDC_JWKS_REFRESH_SECONDS``) and when a token
names a ``kid`` the set does not hold (at most once per ``OIDC_JWKS_MIN_REFRESH_SECONDS``, so a
flood of made-up kids cannot turn into a flood of fetches). A key the provider removed is gone
as soon as the set is fetched again, since the fetched set replaces the old one whole.

One fetch at a time per set, with a short timeout (``OIDC_JWKS_TIMEOUT_SECONDS``): a request
whose key is already held never waits for a fetch; a periodic refresh that finds another fetch
under way goes on with the keys it has; only a request that needs a key the set lacks waits, and
for no longer than one fetch's timeout."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from typing import Any

import jwt
from django.conf import settings

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 1024 * 1024
# Public-key algorithms only: a symmetric ("oct") key in a published set is a secret anyone
# can read, so a token "signed" with it proves nothing.
ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
NEVER = float("-inf")


def _usable_keys(document: Any) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWKS document by ``kid``; keys without a kid, for encryption, not
    of a public-key algorithm, or of a type PyJWT cannot use are left out (one odd key must not
    hide the others)."""
    keys: dict[str, jwt.PyJWK] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue
        if key.algorithm_name in ASYMMETRIC:
            keys[entry["kid"]] = key
    return keys


class KeySet:
    def __init__(self, url: str) -> None:
        self.url = url
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last attempt, successful or not
        self._unknown_kid_refresh_at = NEVER
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        if self._fetched_at is None:
            self._refresh(wait=True)
        elif now - self._fetched_at >= settings.OIDC_JWKS_REFRESH_SECONDS:
            self._refresh(wait=False)
        found = self._keys.get(kid)
        if found is None and now - self._unknown_kid_refresh_at >= settings.OIDC_JWKS_MIN_REFRESH_SECONDS:
            self._unknown_kid_refresh_at = now
            self._refresh(wait=True)
            found = self._keys.get(kid)
        return found

    def _refresh(self, *, wait: bool) -> None:
        asked = time.monotonic()
        timeout = float(settings.OIDC_JWKS_TIMEOUT_SECONDS)
        if not self._lock.acquire(blocking=wait, timeout=timeout + 1 if wait else -1):
            return
        try:
            if self._fetched_at is not None and self._fetched_at >= asked:
                return  # another request fetched the set while this one waited for it
            self._fetch(timeout)
        finally:
            self._lock.release()

    def _fetch(self, timeout: float) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=timeout) as response:  # noqa: S310 — an operator's URL
                document = json.loads(response.read(MAX_JWKS_BYTES))
        except (OSError, ValueError) as exc:
            # Keep the keys held: an outage at the provider must not lock every caller out.
            log.warning("JWKS fetch failed", extra={"event": "oidc.jwks_fetch_failed", "error": type(exc).__name__})
            self._unknown_kid_refresh_at = time.monotonic()
            self._fetched_at = time.monotonic()
            return
        self._keys = _usable_keys(document)
        self._fetched_at = time.monotonic()
        log.info("JWKS fetched", extra={"event": "oidc.jwks_fetched", "keys": len(self._keys)})


_sets: dict[str, KeySet] = {}
_sets_lock = threading.Lock()


def key_set(url: str) -> KeySet:
    with _sets_lock:
        found = _sets.get(url)
        if found is None:
            found = _sets[url] = KeySet(url)
        return found
