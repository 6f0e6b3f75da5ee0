"""A streaming response that stays streamed under ASGI.

``bin/web`` serves Django through its ASGI handler, which reads a response body with
``aiter(response)``. Django's ``StreamingHttpResponse`` given a synchronous iterator then
consumes it whole in a thread (``sync_to_async(list)``) before sending a byte, warning
"StreamingHttpResponse must consume synchronous iterators" every time: an export was held in
memory twice over. Generators that read the database must run in a thread, so
:class:`StreamingResponse` keeps the synchronous iterator for WSGI and the test client, and
under ASGI is an asynchronous iterator that pulls one part at a time from the request's
thread (thread-sensitive: the thread, and database connection, the view ran in)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

_END = object()


def _next_part(parts: Iterator[bytes]) -> bytes | object:
    return next(parts, _END)


class StreamingResponse(StreamingHttpResponse):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        parts = iter(self.streaming_content)  # type: ignore[arg-type]  # sync: set from an iterator
        pull = sync_to_async(_next_part, thread_sensitive=True)
        while (part := await pull(parts)) is not _END:
            yield part  # type: ignore[misc]  # not _END: bytes
