"""What an API answer looks like: the one error envelope, and the ids the work API mints."""

from __future__ import annotations

import re
from typing import Any

ID_RE = {prefix: re.compile(rf"^{prefix}_\d{{13}}_[0-9a-z]{{9}}$") for prefix in ("proj", "task", "sess", "evt", "sub")}


def assert_error(response: Any, status: int, code: str = "VALIDATION_ERROR",
                 message: str | None = None) -> dict[str, Any]:
    """The one error envelope, ``{"error": true, "code", "message", "details"}``, with this status
    and code (and message, when given); returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "code", "message", "details"}
    assert body["error"] is True
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    if message is not None:
        assert body["message"] == message
    return body


def is_id(prefix: str, value: Any) -> bool:
    return isinstance(value, str) and bool(ID_RE[prefix].match(value))
