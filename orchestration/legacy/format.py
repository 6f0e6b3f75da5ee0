"""The old Maestro Server's ``~/.maestro/data`` layout (DESIGN §8): finding its files, reading
them, validating each one and applying the old loader's migrations.

No database access: every file yields either a :class:`Record` (model field values, ready for
the ORM) or a :class:`Problem` (its path and the reason it cannot be imported), never an
exception, so one bad file never stops an import.

Layout, as the old ``FileSystem*Repository`` classes read it::

    projects/<id>.json
    tasks/<projectId>/<id>.json      (any directory under tasks/ is a project directory)
    tasks/<id>.json                  (legacy flat tasks)
    sessions/<id>.json

Only ``*.json`` names are read, as the old loader did. The old loader trusted the ``id`` inside
the file, not its name; so do we (a mismatch is a warning).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, overload

from maestro.core.wire import from_ms, to_ms
from orchestration.work.models import Session, Task, TaskTimelineEvent

KIND_DIRS = {"project": "projects", "task": "tasks", "session": "sessions"}
# Ids become file names on export, so they must not contain path separators or start with a dot.
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
MAX_MS = 253402300799999  # 9999-12-31T23:59:59.999Z, the last instant a datetime can hold
TASK_STATUS_ALIASES = {"todo": Task.Status.PENDING.value}  # the old system's name for pending


@dataclass
class Problem:
    kind: str
    path: str
    reason: str
    id: str = ""  # the entity's id when it could be read, so dependants can name the cause

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Record:
    kind: str
    path: str
    id: str
    fields: dict[str, Any]
    project_id: str = ""
    parent_id: str | None = None
    # task: its sessionIds; session: its taskIds (both sides of the link, as the old files had them)
    refs: list[str] = field(default_factory=list)
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Layout:
    projects: list[Record] = field(default_factory=list)
    tasks: list[Record] = field(default_factory=list)
    sessions: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class Invalid(ValueError):
    """A file that cannot be imported; the message is the reason shown to the operator."""


def looks_like_data_dir(root: Path) -> bool:
    return any((root / d).is_dir() for d in KIND_DIRS.values())


def read_layout(root: Path) -> Layout:
    layout = Layout()
    parsers = {"project": (parse_project, layout.projects), "task": (parse_task, layout.tasks),
               "session": (parse_session, layout.sessions)}
    for kind, (parse, out) in parsers.items():
        for path in _files(root, kind):
            data: dict[str, Any] = {}
            try:
                data = _load(path)
                out.append(parse(data, str(path)))
            except Invalid as exc:
                given_id = data.get("id")
                entity_id = given_id if isinstance(given_id, str) else path.stem
                layout.problems.append(Problem(kind, str(path), str(exc), entity_id))
    return layout


def _files(root: Path, kind: str) -> list[Path]:
    base = root / KIND_DIRS[kind]
    if not base.is_dir():
        return []
    found = []
    for entry in os.scandir(base):
        if entry.name.endswith(".json"):
            found.append(Path(entry.path))
        elif kind == "task" and entry.is_dir():
            found.extend(Path(e.path) for e in os.scandir(entry.path) if e.name.endswith(".json"))
    return sorted(found)


def _load(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise Invalid("unreadable: is a directory, not a file")
    except OSError as exc:
        if path.is_symlink() and not path.exists():
            raise Invalid("unreadable: broken symbolic link")
        raise Invalid(f"unreadable: {exc.strerror or exc}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"not UTF-8 text: {exc.reason} at byte {exc.start}")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise Invalid(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except ValueError as exc:
        raise Invalid(f"invalid JSON: {exc}")
    if not isinstance(data, dict):
        raise Invalid(f"not a JSON object (found {_json_type(data)})")
    return data


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


class _Fields:
    """Typed access to one JSON object; errors name the field (``timeline[0].timestamp``)."""

    def __init__(self, data: dict[str, Any], where: str = "") -> None:
        self.data = data
        self.where = where

    def _name(self, key: str) -> str:
        return f"{self.where}{key}"

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            raise Invalid(f"missing required field '{self._name(key)}'")
        return value

    def _wrong(self, key: str, expected: str, value: Any) -> Invalid:
        return Invalid(f"field '{self._name(key)}': expected {expected}, got {_json_type(value)}")

    def string(self, key: str, *, required: bool = False, default: str = "", max_len: int | None = None) -> str:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        if required and not value.strip():
            raise Invalid(f"field '{self._name(key)}': must not be empty")
        if max_len is not None and len(value) > max_len:
            raise Invalid(f"field '{self._name(key)}': longer than {max_len} characters")
        return value

    def opt_string(self, key: str, *, max_len: int) -> str | None:
        value = self._get(key, False)
        return None if value is None else self.string(key, max_len=max_len)

    @overload
    def ident(self, key: str, *, required: Literal[True] = True) -> str: ...

    @overload
    def ident(self, key: str, *, required: bool) -> str | None: ...

    def ident(self, key: str, *, required: bool = True) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._wrong(key, "a string id", value)
        if not ID_RE.match(value):
            raise Invalid(f"field '{self._name(key)}': {value!r} is not a valid id "
                          "(1-40 letters, digits, '_', '-' or '.', not starting with '.')")
        return value

    def string_list(self, key: str) -> list[str]:
        value = self._get(key, False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._wrong(key, "an array of strings", value)
        return list(dict.fromkeys(value))

    def obj(self, key: str) -> dict[str, Any] | None:
        value = self._get(key, False)
        if value is not None and not isinstance(value, dict):
            raise self._wrong(key, "an object", value)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false", value)
        return value

    def integer(self, key: str, default: int) -> int:
        value = self._get(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise self._wrong(key, "an integer", value)
        if not -(2**31) <= value < 2**31:
            raise Invalid(f"field '{self._name(key)}': out of range")
        return int(value)

    def timestamp(self, key: str, *, required: bool = False) -> datetime | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(key, "epoch milliseconds (a number)", value)
        if value != int(value) or not 0 <= value <= MAX_MS:
            raise Invalid(f"field '{self._name(key)}': {value!r} is not a whole number of epoch "
                          f"milliseconds between 0 and {MAX_MS}")
        return from_ms(int(value))

    def choice(self, key: str, choices: list[str], *, required: bool = False, default: str = "",
               aliases: dict[str, str] | None = None) -> str:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        value = (aliases or {}).get(value, value)
        if value not in choices:
            raise Invalid(f"field '{self._name(key)}': unknown value {value!r} (expected one of {', '.join(choices)})")
        return value

    def objects(self, key: str) -> list[_Fields]:
        value = self._get(key, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(key, "an array", value)
        items = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise Invalid(f"field '{self._name(key)}[{i}]': expected an object, got {_json_type(item)}")
            items.append(_Fields(item, f"{self._name(key)}[{i}]."))
        return items


def _child_id(f: _Fields, prefix: str, owner: str, index: int, when: datetime, warnings: list[str]) -> str:
    """The entry's own id, or (old entries had none) one derived from its owner and position,
    so a re-import finds the same row instead of adding a copy."""
    given = f.ident("id", required=False)
    if given:
        return given
    digest = int(hashlib.sha256(f"{owner}:{prefix}:{index}".encode()).hexdigest(), 16)
    rand = ""
    while len(rand) < 9:
        digest, r = divmod(digest, 36)
        rand += "0123456789abcdefghijklmnopqrstuvwxyz"[r]
    derived = f"{prefix}_{to_ms(when)}_{rand}"
    warnings.append(f"{f.where.rstrip('.')} has no id; using {derived}")
    return derived


def _dedupe(items: list[dict[str, Any]], label: str, warnings: list[str]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        if item["id"] in seen:
            warnings.append(f"{label}: duplicate id {item['id']}; the first entry is kept")
        else:
            seen[item["id"]] = item
    return list(seen.values())


def _check_name(record: Record, path: str) -> None:
    if Path(path).stem != record.id:
        record.warnings.append(f"file name does not match its id {record.id!r}; the id is used")


def _entries(f: _Fields, key: str, owner: str, warnings: list[str],
             fields: Callable[[_Fields], dict[str, Any]]) -> list[dict[str, Any]]:
    """The timestamped entries of the list ``key`` (a timeline, events): each one's id (given,
    or derived from ``owner`` and its position), its timestamp, then ``fields(entry)``."""
    out = []
    for i, e in enumerate(f.objects(key)):
        when = e.timestamp("timestamp", required=True)
        assert when is not None
        out.append({"id": _child_id(e, "evt", owner, i, when, warnings), "timestamp": when, **fields(e)})
    return out


def parse_project(data: dict[str, Any], path: str) -> Record:
    f = _Fields(data)
    project_id = f.ident("id")
    created = f.timestamp("createdAt", required=True)
    record = Record("project", path, project_id, {
        "name": f.string("name", required=True, max_len=500),
        "working_dir": f.string("workingDir", max_len=2000),
        "description": f.string("description"),
        "created_at": created,
        "updated_at": f.timestamp("updatedAt") or created,
    })
    _check_name(record, path)
    return record


def parse_task(data: dict[str, Any], path: str) -> Record:
    f = _Fields(data)
    task_id = f.ident("id")
    project_id = f.ident("projectId")
    created = f.timestamp("createdAt", required=True)
    assert created is not None and task_id is not None and project_id is not None
    warnings: list[str] = []
    timeline = _entries(f, "timeline", task_id, warnings, lambda e: {
        "type": e.choice("type", TaskTimelineEvent.Type.values, default=TaskTimelineEvent.Type.UPDATE),
        "message": e.string("message"),
        "session_id": e.opt_string("sessionId", max_len=40),
    })
    subtasks = []
    for i, s in enumerate(f.objects("subtasks")):
        sub_created = s.timestamp("createdAt") or created
        owner = s.data.get("taskId")
        if owner is not None and owner != task_id:
            warnings.append(f"{s.where}taskId is {owner!r}; the subtask is kept on {task_id}")
        subtasks.append({
            "id": _child_id(s, "sub", task_id, i, sub_created, warnings),
            "title": s.string("title", required=True, max_len=1000),
            "description": s.string("description"),
            "completed": s.boolean("completed", False),
            "order": s.integer("order", i),
            "created_at": sub_created,
            "updated_at": s.timestamp("updatedAt") or sub_created,
            "completed_at": s.timestamp("completedAt"),
        })
    record = Record("task", path, task_id, {
        "title": f.string("title", required=True, max_len=1000),
        "description": f.string("description"),
        "initial_prompt": f.string("initialPrompt"),
        "status": f.choice("status", Task.Status.values, required=True, aliases=TASK_STATUS_ALIASES),
        "priority": f.choice("priority", Task.Priority.values, default=Task.Priority.MEDIUM),
        "skill_ids": f.string_list("skillIds"),
        "agent_ids": f.string_list("agentIds"),
        "dependencies": f.string_list("dependencies"),
        # The status a working session last reported (the 26aaeb8 server's task field).
        "session_status": f.string("sessionStatus", max_len=16),
        "created_at": created,
        "updated_at": f.timestamp("updatedAt") or created,
        "started_at": f.timestamp("startedAt"),
        "completed_at": f.timestamp("completedAt"),
    }, project_id=project_id, parent_id=f.ident("parentId", required=False), refs=f.string_list("sessionIds"),
        warnings=warnings)
    record.children = {"timeline": _dedupe(timeline, "timeline", warnings),
                       "subtasks": _dedupe(subtasks, "subtasks", warnings)}
    _check_name(record, path)
    parent_dir = Path(path).parent
    if parent_dir.name != KIND_DIRS["task"] and parent_dir.name != project_id:
        warnings.append(f"stored under tasks/{parent_dir.name}/ but its projectId is {project_id!r}; "
                        "the projectId is used")
    return record


def parse_session(data: dict[str, Any], path: str) -> Record:
    f = _Fields(data)
    session_id = f.ident("id")
    project_id = f.ident("projectId")
    started = f.timestamp("startedAt", required=True)
    assert started is not None and session_id is not None and project_id is not None
    # The old loader's migrations: taskId -> taskIds (only when taskIds is absent), a missing
    # or empty name -> "Session <id>", a missing env -> {}.
    if data.get("taskIds") is None and data.get("taskId") is not None:
        task_ids = [f.ident("taskId")]
    else:
        task_ids = f.string_list("taskIds")
    warnings: list[str] = []
    events = _entries(f, "events", session_id, warnings, lambda e: {
        "type": e.string("type", required=True, max_len=100),
        "data": e.data.get("data"),
    })
    timeline = _entries(f, "timeline", f"{session_id}:timeline", warnings, lambda e: {
        "type": e.string("type", default="progress", max_len=32) or "progress",
        "message": e.string("message"),
        "task_id": e.opt_string("taskId", max_len=40),
        "metadata": e.obj("metadata"),
    })
    record = Record("session", path, session_id, {
        "name": f.string("name", max_len=500) or f"Session {session_id}",
        "agent_id": f.opt_string("agentId", max_len=200),
        "status": f.choice("status", Session.Status.values, required=True),
        "env": f.obj("env") or {},
        "metadata": f.obj("metadata") or {},
        "hostname": f.string("hostname", max_len=255),
        "platform": f.string("platform", max_len=64),
        "started_at": started,
        "last_activity": f.timestamp("lastActivity") or started,
        "completed_at": f.timestamp("completedAt"),
    }, project_id=project_id, refs=[t for t in task_ids if t], warnings=warnings)
    record.children = {"events": _dedupe(events, "events", warnings),
                       "timeline": _dedupe(timeline, "timeline", warnings)}
    _check_name(record, path)
    return record
