"""The errors services raise, and the one shape every API path answers them in:
``{"error": true, "code": "TASK_NOT_FOUND", "message": "Task not found", "details": {...}}``
(mapped to responses by :mod:`maestro.api.errors`)."""

from __future__ import annotations

from typing import Any


class MaestroError(Exception):
    status_code = 400
    code = "VALIDATION_ERROR"
    message = "Invalid request"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: dict[str, Any] | None = None, status_code: int | None = None) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}
        if status_code is not None:
            self.status_code = status_code
        super().__init__(self.message)


class ValidationFailed(MaestroError):
    pass


class Unauthenticated(MaestroError):
    """No credential, or not the one this path takes (401)."""

    status_code = 401
    code = "UNAUTHORIZED"
    message = "Authentication credentials were not provided or are not valid"


class IdempotencyKeyReused(MaestroError):
    """An ``Idempotency-Key`` sent again with a different request (IETF idempotency-key draft:
    422): the first request's result stands and this one is not carried out."""

    status_code = 422
    code = "IDEMPOTENCY_KEY_REUSED"
    message = "This Idempotency-Key was used for a different request"


class NotFound(MaestroError):
    status_code = 404

    def __init__(self, entity: str, entity_id: str | None = None, **kw: Any) -> None:
        details = {"id": entity_id} if entity_id is not None else {}
        super().__init__(f"{entity.replace('_', ' ').capitalize()} not found",
                         code=f"{entity.upper()}_NOT_FOUND", details=details, **kw)


class Refusal(MaestroError):
    """Refused by a policy (a role, a stale version, a lifecycle rule, an id already taken, a
    project that still has tasks). Unlike a validation error it is recorded: the write path
    writes a ``denied`` audit row naming ``policy`` (docs/decisions.md, "Refusals")."""

    policy = "policy"

    def __init__(self, message: str | None = None, *, policy: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.policy = policy or str(self.details.get("policy") or type(self).policy)


class Forbidden(Refusal):
    status_code = 403
    code = "FORBIDDEN"
    message = "You do not have permission to perform this action"
    policy = "rbac"


class Conflict(Refusal):
    status_code = 409
    code = "CONFLICT"
    message = "Conflict"
    policy = "state_machine"


class PreconditionFailed(Refusal):
    status_code = 412
    code = "PRECONDITION_FAILED"
    message = "The resource was changed by someone else (stale If-Match)"
    policy = "optimistic_concurrency"

    def describe(self) -> str:
        return (f"{self.message} (current version {self.details.get('currentVersion')}, "
                f"If-Match {self.details.get('expectedVersion')})")


class ProjectHasDependencies(Refusal):
    code = "PROJECT_HAS_DEPENDENCIES"
    message = "Project has tasks or sessions and cannot be deleted"
    policy = "project_has_dependencies"


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": True, "code": code, "message": message, "details": details or {}}
