"""A body sent without Content-Length (chunked) is held to the same limit as a declared one."""

import json

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.asgi import get_asgi_application


async def _post_chunked(path: str, chunks: list[bytes], token: str) -> tuple[int, dict]:
    app = get_asgi_application()
    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "scheme": "http",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000), "http_version": "1.1",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {token}".encode()), (b"transfer-encoding", b"chunked")]}
    comm = ApplicationCommunicator(app, scope)
    for i, chunk in enumerate(chunks):
        await comm.send_input({"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1})
    start = await comm.receive_output(10)
    body = await comm.receive_output(10)
    return start["status"], json.loads(body["body"])


@pytest.mark.django_db(transaction=True)
async def test_oversized_chunked_body_is_refused(settings):
    from asgiref.sync import sync_to_async

    from maestro.tenancy.services import default_tenant
    from orchestration.models import Project
    from tests.factories import make_token

    settings.MAESTRO_MAX_BODY_BYTES = 1000
    tenant = await sync_to_async(default_tenant)()
    token = await sync_to_async(make_token)(username="chunky", tenant=tenant, role="operator")
    big = json.dumps({"name": "x" * 5000}).encode()
    status, body = await _post_chunked("/api/projects", [big[:600], big[600:]], token)
    assert status == 400 and body["message"] == "Request body too large"
    assert await sync_to_async(Project.objects.count)() == 0
    small = json.dumps({"name": "chunked"}).encode()
    status, body = await _post_chunked("/api/projects", [small[:5], small[5:]], token)
    assert status == 201 and body["name"] == "chunked"
