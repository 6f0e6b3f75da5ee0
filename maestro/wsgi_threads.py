"""HTTP requests to a WSGI application in a pool of threads, from an ASGI server.

Django's views are synchronous, so ``maestro.asgi`` runs each HTTP request whole in one thread
(middleware, view, queries) while WebSockets stay on the event loop. This bridge makes one hop
from the loop to a thread and one back for an ordinary response: the thread runs the
application and returns the status, headers and the whole body, which the loop then sends.
a2wsgi's ``WSGIMiddleware``, used before, handed the response start, every body chunk and the
end of the body back to the loop one at a time and waited for each (three round trips more a
request, each a wake-up of the loop and a hand-over of the GIL); on the task read that cost
more server CPU than the view (docs/decisions.md, ``bench/read_api.py``).

A streaming response (``response.streaming``, an export) is still sent a part at a time from the
request's thread, which holds its database connection. The request body is taken as the server
hands it over: in memory when it came in one piece (every request without a body, and most
with one), spooled to disk past ``FILE_UPLOAD_MAX_MEMORY_SIZE`` otherwise, as Django's own ASGI
handler does.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import io
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, cast

from a2wsgi.wsgi import build_environ
from django.conf import settings

Scope = dict[str, Any]
Message = dict[str, Any]
Send = Callable[[Message], Any]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class WSGIThreads:
    def __init__(self, app: WSGIApp, *, threads: int) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

    async def __call__(self, scope: Scope, receive: Callable[[], Any], send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"WSGIThreads serves HTTP only, not {scope['type']!r}")
        body = await _body(receive)
        if body is None:
            return  # the client went away before its body was in
        environ = cast(dict[str, Any], build_environ(scope, body))  # type: ignore[arg-type]  # any file-like object
        loop = asyncio.get_running_loop()
        respond = functools.partial(contextvars.copy_context().run, self._respond, environ, loop, send)
        answer = await loop.run_in_executor(self.executor, respond)
        if answer is not None:  # an ordinary response: sent whole from here
            start, content = answer
            await send(start)
            await send({"type": "http.response.body", "body": content})

    def _respond(self, environ: dict[str, Any], loop: asyncio.AbstractEventLoop,
                 send: Send) -> tuple[Message, bytes] | None:
        """Runs the application in this thread; returns the response start and its whole body,
        or None when the response streamed (sent from here, a part at a time)."""
        started: list[Message] = []
        sent = False  # the start went out (a stream): an error now can only end the connection

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            if exc_info is not None and sent:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [{"type": "http.response.start", "status": int(status.split(" ", 1)[0]),
                           "headers": [(name.lower().encode("latin1"), value.encode("latin1"))
                                       for name, value in headers]}]
            return _no_write

        result = self.app(environ, start_response)
        try:
            if getattr(result, "streaming", None) is False or isinstance(result, list):
                return started[0], b"".join(result)

            def now(message: Message) -> None:
                asyncio.run_coroutine_threadsafe(send(message), loop).result()

            parts = iter(result)
            first = next(parts, b"")  # an iterator may call start_response only once it is iterated
            sent = True
            now(started[0])
            if first:
                now({"type": "http.response.body", "body": first, "more_body": True})
            for part in parts:
                now({"type": "http.response.body", "body": part, "more_body": True})
            now({"type": "http.response.body", "body": b""})
            return None
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # Django's request_finished: in the request's thread, with its connection


def _no_write(data: bytes) -> None:
    raise NotImplementedError("the WSGI write() callable is not supported; return the body instead")


async def _body(receive: Callable[[], Any]) -> IO[bytes] | None:
    message = await receive()
    if message["type"] != "http.request":
        return None
    if not message.get("more_body"):
        return io.BytesIO(message.get("body", b""))
    spooled = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    spooled.write(message.get("body", b""))
    while message.get("more_body"):
        message = await receive()
        if message["type"] != "http.request":
            spooled.close()
            return None
        spooled.write(message.get("body", b""))
    spooled.seek(0)
    return spooled
