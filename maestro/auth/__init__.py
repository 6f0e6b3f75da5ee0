"""Who is calling: the HTTP authenticators (:mod:`maestro.auth.backends`: API tokens, OIDC JWTs,
the Django session, the dev loopback operator) and the WebSocket handshake
(:mod:`maestro.auth.websocket`), which applies the same rules to a connection. Which tenant and
role a caller then acts with is :mod:`maestro.tenancy.access`."""
