"""maestro.wsgi_threads: HTTP from the ASGI server to the WSGI application in a thread pool.
An ordinary response comes back whole in one hop; a streamed one part by part from the thread
that ran the request (which holds its database connection), and the response is closed there."""

import asyncio
import contextvars
import threading

import pytest
from asgiref.testing import ApplicationCommunicator

from maestro.wsgi_threads import WSGIThreads

request_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_var", default="unset")


def _scope(method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    return {"type": "http", "method": method, "path": "/api/things", "query_string": b"a=1&b=2",
            "scheme": "http", "server": ("127.0.0.1", 8000), "client": ("127.0.0.9", 5000),
            "http_version": "1.1", "asgi": {"version": "3.0"}, "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), *(headers or [])]}


class Recorder:
    """A WSGI application that answers with what it saw, and records the threads it ran in."""

    def __init__(self, parts: list[bytes] | None = None) -> None:
        self.parts = parts
        self.threads: dict[str, int] = {}
        self.seen: dict = {}

    def __call__(self, environ, start_response):
        self.threads["app"] = threading.get_ident()
        self.seen = {"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
                     "query": environ["QUERY_STRING"], "body": environ["wsgi.input"].read(),
                     "remote": environ["REMOTE_ADDR"], "type": environ.get("CONTENT_TYPE"),
                     "context": request_var.get()}
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Thing", "é")])
        if self.parts is None:
            return [b"whole ", b"body"]
        return self._stream()

    def _stream(self):
        recorder = self

        class Streamed:
            def __iter__(self):
                for part in recorder.parts:
                    recorder.threads.setdefault("parts", set()).add(threading.get_ident())
                    yield part

            def close(self):
                recorder.threads["close"] = threading.get_ident()

        return Streamed()


async def _exchange(app, scope: dict, bodies: list[bytes]) -> list[dict]:
    comm = ApplicationCommunicator(app, scope)
    for i, body in enumerate(bodies):
        await comm.send_input({"type": "http.request", "body": body, "more_body": i < len(bodies) - 1})
    sent = []
    while True:
        message = await comm.receive_output(5)
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            break
    await comm.wait(5)
    return sent


async def test_an_ordinary_response_is_run_in_a_thread_and_sent_whole():
    app = Recorder()
    bridge = WSGIThreads(app, threads=2)

    async def traced(scope, receive, send):  # an ASGI layer in front binds a context variable
        request_var.set("req-7")
        await bridge(scope, receive, send)

    # when
    sent = await _exchange(traced, _scope("POST", [(b"content-type", b"application/json")]), [b'{"a": 1}'])
    # then: start and the whole body, nothing else
    assert sent == [{"type": "http.response.start", "status": 201,
                     "headers": [(b"content-type", b"text/plain"), (b"x-thing", "é".encode("latin1"))]},
                    {"type": "http.response.body", "body": b"whole body"}]
    assert app.seen == {"method": "POST", "path": "/api/things", "query": "a=1&b=2", "body": b'{"a": 1}',
                        "remote": "127.0.0.9", "type": "application/json", "context": "req-7"}
    assert app.threads["app"] != threading.get_ident()


async def test_a_body_in_several_messages_reaches_the_application_whole(settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10  # spooled to disk past 10 bytes
    app = Recorder()
    sent = await _exchange(WSGIThreads(app, threads=1), _scope("POST"), [b"x" * 8, b"y" * 8, b"z"])
    assert sent[0]["status"] == 201
    assert app.seen["body"] == b"x" * 8 + b"y" * 8 + b"z"


async def test_a_streamed_response_is_sent_part_by_part_from_the_request_thread_which_closes_it():
    app = Recorder(parts=[b"one,", b"two,", b"three"])
    sent = await _exchange(WSGIThreads(app, threads=4), _scope(), [b""])
    assert [m["type"] for m in sent] == ["http.response.start"] + ["http.response.body"] * 4
    assert [m["body"] for m in sent[1:]] == [b"one,", b"two,", b"three", b""]
    assert [m.get("more_body", False) for m in sent[1:]] == [True, True, True, False]
    assert app.threads["parts"] == {app.threads["app"]}
    assert app.threads["close"] == app.threads["app"]


async def test_a_client_gone_before_its_body_arrived_runs_nothing():
    app = Recorder()
    comm = ApplicationCommunicator(WSGIThreads(app, threads=1), _scope("POST"))
    await comm.send_input({"type": "http.disconnect"})
    await comm.wait(5)
    assert app.seen == {}
    assert await comm.receive_nothing()


async def test_an_application_error_reaches_the_server_and_sends_nothing():
    def broken(environ, start_response):
        raise RuntimeError("boom")

    comm = ApplicationCommunicator(WSGIThreads(broken, threads=1), _scope())
    await comm.send_input({"type": "http.request", "body": b""})
    with pytest.raises(RuntimeError, match="boom"):
        await comm.wait(5)
    assert comm.output_queue.empty()  # the server answers 500 itself


async def test_requests_run_side_by_side_up_to_the_thread_count():
    inside, release = threading.Semaphore(0), threading.Event()

    def slow(environ, start_response):
        inside.release()
        release.wait(5)
        start_response("200 OK", [])
        return [b"done"]

    app = WSGIThreads(slow, threads=2)
    exchanges = [asyncio.ensure_future(_exchange(app, _scope(), [b""])) for _ in range(3)]
    # two requests are in the application at once; the third waits for a thread
    assert await asyncio.to_thread(inside.acquire, True, 5)
    assert await asyncio.to_thread(inside.acquire, True, 5)
    assert not await asyncio.to_thread(inside.acquire, True, 0.3)
    release.set()
    answers = await asyncio.gather(*exchanges)
    assert [a[-1]["body"] for a in answers] == [b"done"] * 3
