"""Helpers for the legacy import/export tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError

from orchestration.work.representations import project_repr, session_repr, task_repr
from orchestration.work.selectors.projects import project_list
from orchestration.work.selectors.sessions import session_list
from orchestration.work.selectors.tasks import task_list

# The old system's sample data, a copy of ../shared/fixtures/legacy kept in the repository so the
# suite does not depend on where it is cloned (tests/test_fixtures_in_sync.py checks the copy).
LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy"
DATA = LEGACY / "maestro-data"

PAYMENTS = "proj_1706789123456_ujzde8gxd"
DOCS = "proj_1706789124456_6ncf10epf"


@dataclass
class Run:
    out: str
    err: str
    error: CommandError | None


def run(command: str, *args: str) -> Run:
    out, err = StringIO(), StringIO()
    error = None
    try:
        call_command(command, *args, stdout=out, stderr=err)
    except CommandError as exc:
        error = exc
    return Run(out.getvalue(), err.getvalue(), error)


def files(root: Path, kind: str) -> dict[str, dict[str, Any]]:
    """id -> parsed JSON of every file of a kind in a layout."""
    pattern = {"project": "projects/*.json", "task": "tasks/**/*.json", "session": "sessions/*.json"}[kind]
    out = {}
    for path in root.glob(pattern):
        data = json.loads(path.read_text())
        out[data["id"]] = data
    return out


def dump(tenant: Any) -> dict[str, dict[str, Any]]:
    """Every representation of the tenant's projects, tasks and sessions, by id."""
    return {
        "projects": {p.id: project_repr(p) for p in project_list(tenant=tenant)},
        "tasks": {t.id: task_repr(t) for t in task_list(tenant=tenant)},
        "sessions": {s.id: session_repr(s) for s in session_list(tenant=tenant)},
    }


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path
