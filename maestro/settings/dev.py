from .base import *  # noqa: F403
from .base import SECRET_KEY, VAR_DIR

DEBUG = False  # API errors stay JSON; the admin needs no debug pages.
MAESTRO_DEV_LOOPBACK_AUTH = True
if not SECRET_KEY:
    # A stable per-checkout key, so sessions survive restarts of the embedded default.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        import secrets

        _key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = _key_file.read_text().strip()
