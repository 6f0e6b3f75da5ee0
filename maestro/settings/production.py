import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SECRET_KEY

# Each message is one line naming the variable and how to make a value (manage.py and bin/*
# print it alone, without a traceback).
if not SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured(
        "MAESTRO_SECRET_KEY must be set (32+ characters) when MAESTRO_ENV=production; generate one with: "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'")
if not os.environ.get("MAESTRO_LEDGER_SIGNING_KEY"):
    raise ImproperlyConfigured(
        "MAESTRO_LEDGER_SIGNING_KEY must be set when MAESTRO_ENV=production (an Ed25519 private key, base64 "
        "or PEM); generate one with: python3 -m ledger.keygen")
for _name in ("MAESTRO_OIDC_ISSUER", "MAESTRO_OIDC_AUDIENCE"):
    # Without them, a token any client of the provider was issued (or another provider's, signed
    # by a key in the same set) would be accepted as one meant for Maestro.
    if os.environ.get("MAESTRO_OIDC_JWKS_URL") and not os.environ.get(_name):
        raise ImproperlyConfigured(
            f"{_name} must be set when MAESTRO_OIDC_JWKS_URL is set and MAESTRO_ENV=production "
            "(the provider's issuer URL and the audience its tokens for Maestro carry)")
if os.environ.get("MAESTRO_SSO_ISSUER") and not os.environ.get("MAESTRO_SSO_CLIENT_SECRET"):
    raise ImproperlyConfigured(
        "MAESTRO_SSO_CLIENT_SECRET must be set when MAESTRO_SSO_ISSUER is set and MAESTRO_ENV=production "
        "(the secret of the client registered for Maestro at the provider)")
if os.environ.get("MAESTRO_DEBUG", "").lower() in {"1", "true", "yes"}:
    raise ImproperlyConfigured("debug must be off in production")
DEBUG = False
MAESTRO_DEV_LOOPBACK_AUTH = False
MAESTRO_METRICS_OPEN = False  # /metrics needs MAESTRO_METRICS_TOKEN
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
