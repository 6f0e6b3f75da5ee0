"""Shared by the ledger API tests."""

from __future__ import annotations

URL = "/api/ledger/"
BODY = {"actionType": "deploy.finished", "resourceType": "service", "resourceId": "payments-api",
        "actorId": "ci-bot", "actorType": "job", "payload": {"version": "1.4.2", "ok": True},
        "metadata": {"pipeline": 17}}


def error(response, status: int, code: str = "VALIDATION_ERROR") -> dict:
    """The one error envelope, with this status and code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert (body["error"], body["code"]) == (True, code)
    return body


def hashed_view(entry: dict) -> dict:
    """What anyone can recompute currentHash from: the API entry minus currentHash and payload."""
    return {k: v for k, v in entry.items() if k not in ("currentHash", "payload")}
