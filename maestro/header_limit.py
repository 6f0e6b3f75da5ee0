"""The request-header limit at the ASGI layer, in front of everything: uvicorn's httptools
parser (what bin/web runs) takes headers of any size, so a megabyte of headers would reach
Django, be copied into ``request.META`` and be logged. Over ``MAESTRO_MAX_HEADER_BYTES`` in all
or ``MAESTRO_MAX_HEADER_FIELD_BYTES`` in one field (name and value), an HTTP request is answered
in the one error envelope (400, as an oversized body is: DESIGN §4) and a WebSocket handshake is
refused before it is accepted."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from maestro.body_limit import refuse


def header_refusal(headers: list[tuple[bytes, bytes]]) -> dict[str, Any] | None:
    """The limits as ``details`` when ``headers`` exceed them, else None."""
    total_limit, field_limit = settings.MAESTRO_MAX_HEADER_BYTES, settings.MAESTRO_MAX_HEADER_FIELD_BYTES
    total = 0
    for name, value in headers:
        size = len(name) + len(value)
        total += size
        if size > field_limit or total > total_limit:
            return {"maxBytes": total_limit, "maxFieldBytes": field_limit}
    return None


class HeaderSizeLimit:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        details = header_refusal(scope.get("headers") or []) if scope["type"] in ("http", "websocket") else None
        if details is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await refuse(send, {b"x-request-id": dict(scope["headers"]).get(b"x-request-id", b"")},
                         "Request headers too large", details)
        else:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403
