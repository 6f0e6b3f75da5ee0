"""What a caller authenticated with, as :mod:`maestro.tenancy.access` needs to know it (the
authenticators in :mod:`maestro.auth.backends` produce these)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OidcClaims:
    subject: str
    tenant: str | None
    role: str | None


class DevLoopback:
    """Marker for ``request.auth``: the dev-only local operator of the default tenant."""
