"""OpenAPI descriptions of Maestro's authenticators (drf-spectacular finds extensions by import)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "maestro.auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "http", "scheme": "bearer", "description": "Maestro API token (`mae_…`)"}


class OidcScheme(OpenApiAuthenticationExtension):
    target_class = "maestro.auth.OidcJwtAuthentication"
    name = "oidcJwt"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "OIDC access token validated against MAESTRO_OIDC_JWKS_URL"}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "maestro.auth.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class DevLoopbackScheme(OpenApiAuthenticationExtension):
    target_class = "maestro.auth.DevLoopbackAuthentication"
    name = "devLoopback"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {"type": "apiKey", "in": "header", "name": "X-Maestro-Dev-Loopback",
                "description": "MAESTRO_ENV=dev only: unauthenticated loopback requests act as the local operator"}
