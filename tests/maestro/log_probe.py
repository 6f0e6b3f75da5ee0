"""Run as a process of its own (``python -m tests.maestro.log_probe web|worker``): sets logging
up as that Maestro process does, then prints, as one JSON list, how every handler of every
logger that emits formats each of ``records()`` (``[handler, line]`` pairs)."""

from __future__ import annotations

import json
import logging
import sys

TOKEN = "mae_" + "s3cr3t-Tok_en" * 3
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvbGl2aWEifQ.c2lnbmF0dXJl"
SESSION = "k3yk3yk3yk3yk3yk3yk3yk3yk3yk3y99"
CSRF = "csrfcsrfcsrf0123"
PASSWORD = "pa55w0rd-of-redis"
SECRETS = (TOKEN, JWT, SESSION, CSRF, PASSWORD)


def _record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    return logging.getLogger("probe").makeRecord("probe", logging.ERROR, __file__, 1, msg, args, None, extra=extra)


def _failure() -> logging.LogRecord:
    try:
        raise ValueError(f"bad handshake for /ws?token={TOKEN}")
    except ValueError:
        record = _record("Exception in ASGI application")
        record.exc_info = sys.exc_info()
    return record


def records() -> list[logging.LogRecord]:
    """What uvicorn, Django and a failing handshake log, each carrying a credential."""
    from django.test import RequestFactory

    request = RequestFactory().get(f"/api/x?token={TOKEN}", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    return [
        _record('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/api/x?a=1&token={TOKEN}&b=2", "1.1", 401),
        _record('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", f"/ws?access_token={JWT}"),
        _record("Internal Server Error: %s", "/api/x", status_code=500, request=request),
        _record(f"headers: Authorization: Bearer {JWT}; Cookie: sessionid={SESSION}; csrftoken={CSRF}"),
        _record(f"Sec-WebSocket-Protocol: maestro.v1, maestro.token.{TOKEN}"),
        _record("token %s in a path", f"/api/things/{TOKEN}"),
        _failure(),
        _record("broker unreachable: %s", f"redis://:{PASSWORD}@10.0.0.5:6379/0"),
    ]


def main(kind: str) -> None:
    import django

    django.setup()  # Django's LOGGING: what bin/web (uvicorn is given the same), bin/scheduler and manage.py use
    if kind == "worker":
        from maestro.celery import app

        app.log.setup(loglevel="INFO")  # what `celery worker` (bin/worker) does next
    loggers = [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]
    handlers = [(logger.name, h) for logger in loggers for h in logger.handlers
                if not isinstance(h, logging.NullHandler)]
    out = [[f"{name}:{type(h.formatter).__name__}", h.format(r)] for name, h in handlers for r in records()]
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
