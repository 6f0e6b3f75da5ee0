"""What a caller authenticated with, as :mod:`maestro.tenancy.access` needs to know it (the
authenticators in :mod:`maestro.auth.backends` produce these)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OidcClaims:
    """A verified JWT's identity, and the tenant and role its claims grant (None unless the
    issuer is trusted to grant them: ``OIDC_CLAIMS_GRANT_ACCESS``)."""

    issuer: str
    subject: str
    tenant: str | None
    role: str | None


class DevLoopback:
    """Marker for ``request.auth``: the dev-only local operator of the default tenant."""
