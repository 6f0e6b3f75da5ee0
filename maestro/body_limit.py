"""The request-body limit at the ASGI layer, in front of Django.

Django's ASGI handler buffers the whole body (spooling it to disk past
``FILE_UPLOAD_MAX_MEMORY_SIZE``) before any middleware runs, so a limit checked in middleware
comes after a 10 GB upload has been received and written. Here a declared ``Content-Length``
over ``MAESTRO_MAX_BODY_BYTES`` is refused before a byte of the body is read, and a body sent
without one (chunked) is refused as soon as it passes the limit (and one within it is handed on
with its length declared, as Django served as WSGI needs). The answer is the one error
envelope, as :class:`maestro.middleware.BodySizeLimitMiddleware` gives on other paths in.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from maestro.core.context import request_id_from
from maestro.core.exceptions import error_body

Scope = dict[str, Any]


# The rule, shared with maestro.middleware.BodySizeLimitMiddleware: (message, details) of a refusal.
Refusal = tuple[str, dict[str, Any] | None]


def exempt(path: str) -> bool:
    return path.startswith("/admin/")


def declared_refusal(raw: str | bytes | None, limit: int) -> Refusal | None:
    """Why a declared ``Content-Length`` is refused, or None when it may be read."""
    if raw is None:
        return None
    try:
        length = int(raw)
    except ValueError:
        return "Invalid Content-Length", None
    if length > limit:
        return "Request body too large", {"maxBytes": limit, "contentLength": length}
    return None


def too_large(limit: int) -> Refusal:
    return "Request body too large", {"maxBytes": limit}


class BodySizeLimit:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        limit = settings.MAESTRO_MAX_BODY_BYTES
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            refusal = declared_refusal(declared, limit)
            if refusal is not None:
                await refuse(send, headers, *refusal)
                return
            await self.app(scope, receive, send)  # the server holds the body to its declared length
            return
        if b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body (HTTP/1.1 sends one with either header)
            return
        # A chunked body: read here, up to the limit, and handed on with its length declared.
        # Django, served as WSGI (maestro.asgi), reads only a declared length of body.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > limit:
                await refuse(send, headers, *too_large(limit))
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        declared = [(k, v) for k, v in scope["headers"] if k != b"transfer-encoding"]
        declared.append((b"content-length", str(len(body)).encode()))
        given = False

        async def replay() -> dict[str, Any]:
            nonlocal given
            if given:
                return dict(await receive())
            given = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": declared}, replay, send)


async def refuse(send: Any, headers: dict[bytes, bytes], message: str, details: dict[str, Any] | None) -> None:
    body = json.dumps(error_body("VALIDATION_ERROR", message, details)).encode()
    request_id = request_id_from(headers.get(b"x-request-id", b"").decode("latin1"))
    await send({"type": "http.response.start", "status": 400, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        (b"connection", b"close"),  # the rest of the body was never read
    ]})
    await send({"type": "http.response.body", "body": body})
