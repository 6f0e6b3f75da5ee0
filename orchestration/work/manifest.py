"""The manifest an agent runner starts a session from (DESIGN §4.1, spawn compatibility).

Its shape is the old CLI's: ``maestro worker init`` / ``orchestrator init`` validate the file
against their manifest schema, which refuses unknown keys at the top level, in ``session`` and
in each task. So everything of Maestro's own (the session id, the server URL, where the spawn
came from, the client's ``context``) travels in ``context.custom``, which the schema leaves
open, and a task's initial prompt in its ``metadata``. The CLI's vocabulary differs from the
API's in two places: a pending task is ``todo`` there, and its model is one of three names.
Pure: built from rows the caller has read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orchestration.work.models import Project, Session, Task

MANIFEST_VERSION = "1.0"
CLI_MODELS = ("sonnet", "opus", "haiku")
CLI_STRATEGIES = ("simple", "queue")  # the CLI's schema knows no "tree"
# The CLI requires at least one criterion per task; its own generator wrote this one.
DEFAULT_ACCEPTANCE = "Task completion as described"


def cli_model(model: str | None) -> str:
    """The CLI's name for a model: the first of its names the requested model contains."""
    wanted = (model or "").lower()
    return next((name for name in CLI_MODELS if name in wanted), CLI_MODELS[0])


def _task(t: Task) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": t.id,
        "title": t.title,
        "description": t.description,
        "acceptanceCriteria": [DEFAULT_ACCEPTANCE],
        "projectId": t.project_id,
        "createdAt": t.created_at.isoformat().replace("+00:00", "Z"),
        "parentId": t.parent_id,
        "priority": t.priority,
        "status": "todo" if t.status == Task.Status.PENDING else t.status,
    }
    if t.dependencies:
        item["dependencies"] = list(t.dependencies)
    if t.initial_prompt:
        item["metadata"] = {"initialPrompt": t.initial_prompt}
    return item


def session_manifest(*, session: Session, project: Project, tasks: Iterable[Task], server_url: str) -> dict[str, Any]:
    """The manifest of ``session``, whose spawn options are in its metadata; ``tasks`` in the
    session's order."""
    meta = session.metadata or {}
    tasks = list(tasks)
    session_options: dict[str, Any] = {"model": cli_model(meta.get("model")), "permissionMode": "acceptEdits",
                                       "thinkingMode": "auto"}
    if project.working_dir:
        session_options["workingDirectory"] = project.working_dir
    custom: dict[str, Any] = {
        "taskIds": [t.id for t in tasks],
        "sessionId": session.id,
        "sessionName": session.name,
        "projectId": project.id,
        "projectName": project.name,
        "serverUrl": server_url,
        "spawnSource": meta.get("spawnSource"),
        "spawnedBy": meta.get("spawnedBy"),
    }
    if meta.get("spawnReason"):
        custom["spawnReason"] = meta["spawnReason"]
    if meta.get("model"):
        custom["model"] = meta["model"]
    if meta.get("context"):
        custom["context"] = meta["context"]
    manifest: dict[str, Any] = {
        "manifestVersion": MANIFEST_VERSION,
        "role": meta.get("role") if meta.get("role") in ("worker", "orchestrator") else "worker",
        "tasks": [_task(t) for t in tasks],
        "session": session_options,
        "context": {"custom": custom},
        "skills": list(meta["skills"]) if isinstance(meta.get("skills"), list) else ["maestro-worker"],
    }
    strategy = meta.get("strategy") or "simple"
    if strategy in CLI_STRATEGIES:
        manifest["strategy"] = strategy
    return manifest
