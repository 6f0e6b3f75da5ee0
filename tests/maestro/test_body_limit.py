"""The body limit at the ASGI layer (maestro.body_limit), in front of Django's own buffering:
a declared oversized body is refused before any of it is read, a chunked one as soon as it
passes the limit; either way nothing is stored."""

import json

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator

pytestmark = pytest.mark.django_db(transaction=True)


def _scope(path: str, token: str, extra: list[tuple[bytes, bytes]]) -> dict:
    return {"type": "http", "method": "POST", "path": path, "query_string": b"", "scheme": "http",
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000), "http_version": "1.1",
            "asgi": {"version": "3.0"},
            "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                        (b"authorization", f"Bearer {token}".encode()), *extra]}


async def _post(chunks: list[bytes], token: str, extra: list[tuple[bytes, bytes]],
                more_after_last: bool = False) -> tuple[int, dict, dict]:
    """Sends the chunks (the last one says more is coming when ``more_after_last``) and reads
    the answer without sending anything else."""
    from maestro.asgi import application

    comm = ApplicationCommunicator(application, _scope("/api/projects", token, extra))
    for i, chunk in enumerate(chunks):
        await comm.send_input({"type": "http.request", "body": chunk,
                               "more_body": more_after_last or i < len(chunks) - 1})
    start = await comm.receive_output(10)
    body = await comm.receive_output(10)
    await comm.wait(5)
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, json.loads(body["body"])


@pytest.fixture
async def token(settings):
    from maestro.tenancy.services import default_tenant
    from tests.factories import make_token

    settings.MAESTRO_MAX_BODY_BYTES = 1000
    tenant = await sync_to_async(default_tenant)()
    return await sync_to_async(make_token)(username="chunky", tenant=tenant, role="operator")


async def _projects() -> int:
    from orchestration.work.models import Project

    return await sync_to_async(Project.objects.count)()


async def test_a_declared_oversized_body_is_refused_before_it_is_read(token):
    # when: the client announces 5 MB and has sent only its first bytes
    status, headers, body = await _post([b'{"name": "'], token, [(b"content-length", b"5000000"),
                                                                 (b"x-request-id", b"req-big-1")],
                                        more_after_last=True)
    # then
    assert (status, body["code"], body["message"]) == (400, "VALIDATION_ERROR", "Request body too large")
    assert body["details"] == {"maxBytes": 1000, "contentLength": 5000000}
    assert (headers["x-request-id"], headers["connection"]) == ("req-big-1", "close")
    assert await _projects() == 0


async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(token):
    # when: 1,200 bytes have arrived and more are announced
    status, _, body = await _post([b"x" * 600, b"x" * 600], token, [(b"transfer-encoding", b"chunked")],
                                  more_after_last=True)
    # then
    assert (status, body["message"], body["details"]) == (400, "Request body too large", {"maxBytes": 1000})
    assert await _projects() == 0


async def test_a_malformed_content_length_is_400(token):
    status, _, body = await _post([b"{}"], token, [(b"content-length", b"ten")])
    assert (status, body["message"]) == (400, "Invalid Content-Length")


async def test_bodies_within_the_limit_pass_chunked_or_declared(token):
    small = json.dumps({"name": "chunked"}).encode()
    status, _, body = await _post([small[:5], small[5:]], token, [(b"transfer-encoding", b"chunked")])
    assert (status, body["name"]) == (201, "chunked")
    declared = json.dumps({"name": "declared"}).encode()
    status, _, body = await _post([declared], token, [(b"content-length", str(len(declared)).encode())])
    assert (status, body["name"]) == (201, "declared")
    assert await _projects() == 2
