import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SECRET_KEY

if not SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("MAESTRO_SECRET_KEY must be set (32+ characters) in production")
if not os.environ.get("MAESTRO_LEDGER_SIGNING_KEY"):
    raise ImproperlyConfigured("MAESTRO_LEDGER_SIGNING_KEY must be set in production (Ed25519 key, base64 or PEM)")
if os.environ.get("MAESTRO_DEBUG", "").lower() in {"1", "true", "yes"}:
    raise ImproperlyConfigured("debug must be off in production")
DEBUG = False
MAESTRO_DEV_LOOPBACK_AUTH = False
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
