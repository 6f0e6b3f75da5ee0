"""Log records of every Maestro process: stamped with the request id and, inside a trace span,
its W3C ``traceId`` and ``spanId`` (lowercase hex, 32 and 16 digits), rendered as JSON lines, and
stripped of credentials.

No credential may reach a log line (issue #9). They travel in places that end up logged — an
old WebSocket client's ``?token=`` in the path uvicorn's access log and Django's
``django.request`` (its ``request`` field is the full path) write, an ``Authorization`` or
``Cookie`` value in an exception's text — so the one formatter every handler uses
(``LOGGING``) redacts the finished line, whichever field carried them.
"""

from __future__ import annotations

import logging
import re

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from maestro.core.context import current_request_id

REDACTED = "[redacted]"
# A value ends where a URL parameter, a header value or the JSON string around it ends.
_VALUE = r"[^&;,#\s\"'\\<>]+"
_CREDENTIALS = [
    # a credential in a URL's query string: ?token=… (the old clients' WebSocket), &access_token=…
    (re.compile(rf"(?i)([?&;](?:token|access_token|api_key|apikey)=){_VALUE}"), rf"\1{REDACTED}"),
    # an Authorization header's value
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"), rf"\1\2{REDACTED}"),
    # the token a browser offers as a WebSocket subprotocol (maestro/auth/websocket.py)
    (re.compile(rf"\b(maestro\.token\.){_VALUE}"), rf"\1{REDACTED}"),
    # the session and CSRF cookies
    (re.compile(rf"(?i)\b(sessionid|csrftoken|csrfmiddlewaretoken)={_VALUE}"), rf"\1={REDACTED}"),
    # a password in a URL (a database or broker URL in an error)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s\"'\\]*:)[^@/\s\"'\\]+@"), rf"\1{REDACTED}@"),
    # a Maestro API token or a JWT wherever else it appears (a path, a message)
    (re.compile(r"\bmae_[A-Za-z0-9_-]{16,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
]


def redact(text: str) -> str:
    """``text`` with every credential it carries replaced by ``[redacted]``."""
    for pattern, replacement in _CREDENTIALS:
        text = pattern.sub(replacement, text)
    return text


class RedactingJsonFormatter(JsonFormatter):
    """JSON lines with credentials redacted from the finished line: the message and its
    arguments, every extra field (``request``, ``scope``…) and the exception text alike."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RequestIdFilter(logging.Filter):
    """Stamps every record with the request id of the request (or job) that caused it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id() or None
        return True


class TraceContextFilter(logging.Filter):
    """Stamps a record emitted inside a span (tracing on, docs/operations.md "Traces") with the
    span's ``traceId`` and ``spanId`` as W3C ``traceparent`` writes them, so a log line and its
    span find each other. Outside a span (and always with tracing off) the record gets neither."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.traceId = format(context.trace_id, "032x")
            record.spanId = format(context.span_id, "016x")
        return True
