"""Import and export of the old Maestro Server's ``~/.maestro/data`` (DESIGN §8).

The import writes rows with the ORM, not through ``project_create`` & co., because it must keep
every id and timestamp exactly as the old files have them. It is still one write path: the
whole import runs in one :func:`~maestro.write_path.service` unit and calls ``record`` once per
entity that it created or changed, with the entity's API representation as the event. Change
detection compares representations before and after, so a re-import that changes nothing
records nothing.

The import only creates and updates: it never deletes a row, a timeline entry, a subtask or a
task↔session link (the new system may have added some since the last import).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, transaction

from maestro.core.actors import Actor
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Event, Resource
from maestro.write_path.services import record, service
from orchestration.legacy.format import ID_RE, KIND_DIRS, Layout, Problem, Record, read_layout
from orchestration.work.models import (
    Project,
    Session,
    SessionEvent,
    SessionTask,
    SessionTimelineEvent,
    Subtask,
    Task,
    TaskTimelineEvent,
)
from orchestration.work.representations import project_repr, session_repr, task_repr
from orchestration.work.selectors.projects import project_list
from orchestration.work.selectors.sessions import session_list
from orchestration.work.selectors.tasks import task_list

IMPORT_ACTOR = Actor.system("maestro_import")
KINDS = ("project", "task", "session")
# What an import of each kind is recorded as: (resource, action, created event, updated event).
_RECORDED = {
    "project": (Resource.PROJECT, Action.PROJECT_IMPORT, Event.PROJECT_CREATED, Event.PROJECT_UPDATED),
    "task": (Resource.TASK, Action.TASK_IMPORT, Event.TASK_CREATED, Event.TASK_UPDATED),
    "session": (Resource.SESSION, Action.SESSION_IMPORT, Event.SESSION_CREATED, Event.SESSION_UPDATED),
}
_CHUNK = 500  # ids per IN (...) query; old SQLite builds allow 999 parameters


@dataclass
class KindCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0


@dataclass
class ImportReport:
    dry_run: bool = False
    counts: dict[str, KindCounts] = field(default_factory=lambda: {k: KindCounts() for k in KINDS})
    links_created: int = 0
    problems: list[Problem] = field(default_factory=list)  # skipped: the entity was not imported
    warnings: list[Problem] = field(default_factory=list)  # imported, with something to know

    @property
    def ok(self) -> bool:
        return not self.problems


class _Skip(Exception):
    pass


class _DryRun(Exception):
    pass


def legacy_data_import(*, tenant: Tenant, data_dir: Path, actor: Actor = IMPORT_ACTOR,
                       dry_run: bool = False) -> ImportReport:
    """Imports the layout under ``data_dir`` into ``tenant``. With ``dry_run`` everything runs
    (so the report is exact) and is then rolled back: no row, audit, ledger or event survives."""
    layout = read_layout(data_dir)
    report = ImportReport(dry_run=dry_run)
    for problem in layout.problems:
        report.problems.append(problem)
        report.counts[problem.kind].skipped += 1
    try:
        with service():
            # One import per tenant at a time, so two runs cannot both create the same row.
            # NO KEY UPDATE: it does not block the foreign-key checks of other writers.
            Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).first()
            importer = _Importer(tenant=tenant, actor=actor, report=report)
            for problem in layout.problems:
                importer.skipped_ids[problem.kind].add(problem.id)
            importer.run(layout)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


def _chunks(ids: Iterable[str]) -> Iterable[list[str]]:
    ids = list(ids)
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


def _stored(present: Callable[[Any], Mapping[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """An entity as the old system stored it: its API shape without ``version`` (Maestro's)."""
    return lambda row: {k: v for k, v in present(row).items() if k != "version"}


_PRESENT: dict[str, Callable[[Any], Mapping[str, Any]]] = {
    "project": project_repr, "task": task_repr, "session": session_repr}
_STATE: dict[str, tuple[Callable[..., Any], Callable[[Any], Mapping[str, Any]]]] = {
    "project": (project_list, _stored(project_repr)),
    "task": (task_list, _stored(task_repr)),
    "session": (session_list, _stored(session_repr)),
}


def _validation_reason(exc: ValidationError, label: str = "") -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{label}{name}: {' '.join(msgs)}" for name, msgs in exc.message_dict.items())
    return f"{label}{' '.join(exc.messages)}"


class _Importer:
    def __init__(self, *, tenant: Tenant, actor: Actor, report: ImportReport) -> None:
        self.tenant = tenant
        self.actor = actor
        self.report = report
        self.imported: dict[str, dict[str, Record]] = {k: {} for k in KINDS}
        self.skipped_ids: dict[str, set[str]] = {k: set() for k in KINDS}
        self.created: set[tuple[str, str]] = set()
        self.touched: dict[str, set[str]] = {k: set() for k in KINDS}  # changed by links only
        self.before: dict[str, dict[str, Mapping[str, Any]]] = {}

    # -- phases -------------------------------------------------------------------------------

    def run(self, layout: Layout) -> None:
        records = {"project": self._unique(layout.projects), "task": self._unique(layout.tasks),
                   "session": self._unique(layout.sessions)}
        self._snapshot_before(records)
        for r in records["project"]:
            self._guarded(r, self._project)
        for r in records["task"]:
            self._guarded(r, self._task)
        self._parents()  # once every task exists, so a child may come before its parent
        for r in records["session"]:
            self._guarded(r, self._session)
        self._links()
        self._record_all()

    def _unique(self, records: list[Record]) -> list[Record]:
        """The old loader kept the last file per id (a Map); we keep the first in path order
        and report the others, rather than silently pick one of two disagreeing files."""
        seen: dict[str, str] = {}
        unique = []
        for r in records:
            if r.id in seen:
                self._skip(r, f"duplicate id {r.id} (already read from {seen[r.id]})", mark=False)
                continue
            seen[r.id] = r.path
            unique.append(r)
        return unique

    def _snapshot_before(self, records: dict[str, list[Record]]) -> None:
        ids = {k: {r.id for r in records[k]} for k in KINDS}
        # Rows only named by a link may change too (they gain the link).
        ids["task"] |= {ref for r in records["session"] for ref in r.refs}
        ids["session"] |= {ref for r in records["task"] for ref in r.refs}
        self.before = {k: self._states(k, ids[k]) for k in KINDS}

    def _states(self, kind: str, ids: Iterable[str]) -> dict[str, Mapping[str, Any]]:
        selector, state = _STATE[kind]
        out: dict[str, Mapping[str, Any]] = {}
        for chunk in _chunks(ids):
            out.update((row.id, state(row)) for row in selector(tenant=self.tenant).filter(id__in=chunk))
        return out

    def _guarded(self, r: Record, write: Callable[[Record], None]) -> None:
        try:
            with transaction.atomic():  # a savepoint: a failed entity leaves no partial rows
                write(r)
        except _Skip as exc:
            self._skip(r, str(exc))
            return
        except ValidationError as exc:
            self._skip(r, _validation_reason(exc))
            return
        except DatabaseError as exc:
            self._skip(r, f"database refused the row: {exc}")
            return
        self.imported[r.kind][r.id] = r
        self.report.warnings.extend(Problem(r.kind, r.path, w) for w in r.warnings)

    def _skip(self, r: Record, reason: str, *, mark: bool = True) -> None:
        self.report.problems.append(Problem(r.kind, r.path, reason))
        self.report.counts[r.kind].skipped += 1
        if mark:
            self.skipped_ids[r.kind].add(r.id)

    def _warn(self, r: Record, reason: str) -> None:
        self.report.warnings.append(Problem(r.kind, r.path, reason))

    # -- rows ---------------------------------------------------------------------------------

    def _own_row(self, model: type[models.Model], r: Record) -> Any:
        # FOR NO KEY UPDATE, as the other services lock rows they edit: a concurrent insert of a
        # child (its foreign-key check takes KEY SHARE) is not blocked by it.
        rows = model.objects.select_for_update(no_key=True).filter(id=r.id)  # type: ignore[attr-defined]
        if model is Session:  # a session id is unique within its tenant only
            rows = rows.filter(tenant=self.tenant)
        row = rows.first()
        if row is not None and row.tenant_id != self.tenant.pk:
            raise _Skip(f"id {r.id} already belongs to another tenant")
        if row is not None and r.project_id and row.project_id != r.project_id:
            raise _Skip(f"{r.kind} {r.id} already exists in project {row.project_id}, not {r.project_id}; "
                        "moving it between projects is not supported")
        return row

    def _require_project(self, r: Record) -> None:
        if Project.objects.filter(tenant=self.tenant, id=r.project_id).exists():
            return
        if r.project_id in self.skipped_ids["project"]:
            raise _Skip(f"its project {r.project_id} was skipped (see that file)")
        raise _Skip(f"its project {r.project_id} does not exist")

    def _upsert(self, model: type[models.Model], row: Any, r: Record, exclude: list[str]) -> Any:
        """Creates the row, or updates exactly the fields that differ; no write when none do."""
        if row is None:
            row = model(id=r.id, tenant=self.tenant, **r.fields)
            if r.project_id:
                row.project_id = r.project_id
            row.full_clean(exclude=exclude, validate_unique=False)
            row.save(force_insert=True)
            self.created.add((r.kind, r.id))
            return row
        changed = [name for name, value in r.fields.items() if getattr(row, name) != value]
        if not changed:
            return row
        stamp = "last_activity" if model is Session else "updated_at"
        if getattr(row, stamp) > r.fields[stamp]:
            # Changed in Maestro after the old system wrote the file: a stale file must not
            # undo that. (Entries and links below are still merged in; they only add.)
            r.warnings.append(f"not updated: the row in Maestro is newer than the file "
                              f"({', '.join(sorted(changed))} differ); it is kept")
            return row
        for name in changed:
            setattr(row, name, r.fields[name])
        row.version += 1  # every entity of the old layout is versioned here
        changed.append("version")
        row.full_clean(exclude=exclude, validate_unique=False)
        row.save(update_fields=changed)
        return row

    def _children(self, model: type[models.Model], owner: dict[str, Any], items: list[dict[str, Any]],
                  label: str) -> None:
        """Adds missing entries and corrects changed ones, matched by id; never deletes."""
        existing: dict[str, Any] = {}
        for row in model.objects.filter(**owner):  # type: ignore[attr-defined]
            existing.setdefault(row.id, row)
        fk = next(iter(owner)).removesuffix("_id")
        new = []
        for i, item in enumerate(items):
            row = existing.get(item["id"])
            try:
                if row is None:
                    row = model(**owner, **item)
                    row.full_clean(exclude=[fk], validate_unique=False)
                    new.append(row)
                    continue
                changed = [name for name, value in item.items() if getattr(row, name) != value]
                if changed:
                    for name in changed:
                        setattr(row, name, item[name])
                    row.full_clean(exclude=[fk], validate_unique=False)
                    row.save(update_fields=changed)
            except ValidationError as exc:
                raise _Skip(_validation_reason(exc, f"{label}[{i}].")) from None
        model.objects.bulk_create(new)  # type: ignore[attr-defined]

    def _project(self, r: Record) -> None:
        self._upsert(Project, self._own_row(Project, r), r, exclude=["tenant"])

    def _task(self, r: Record) -> None:
        row = self._own_row(Task, r)
        self._require_project(r)
        sub_ids = [s["id"] for s in r.children["subtasks"]]
        for chunk in _chunks(sub_ids):
            clash = Subtask.objects.filter(id__in=chunk).exclude(task_id=r.id).values_list("id", "task_id").first()
            if clash:
                raise _Skip(f"subtask {clash[0]} already belongs to task {clash[1]}")
        # The parent is set once every task exists (see _parents).
        self._upsert(Task, row, r, exclude=["tenant", "project", "parent"])
        self._children(TaskTimelineEvent, {"task_id": r.id}, r.children["timeline"], "timeline")
        self._children(Subtask, {"task_id": r.id}, r.children["subtasks"], "subtasks")

    def _session(self, r: Record) -> None:
        row = self._own_row(Session, r)
        self._require_project(r)
        row = self._upsert(Session, row, r, exclude=["tenant", "project"])
        self._children(SessionEvent, {"session_id": row.pk}, r.children["events"], "events")
        self._children(SessionTimelineEvent, {"session_id": row.pk}, r.children["timeline"], "timeline")

    def _parents(self) -> None:
        tasks = self.imported["task"]
        wanted = {r.parent_id for r in tasks.values() if r.parent_id}
        known: dict[str, str] = {}
        for chunk in _chunks(wanted):
            known.update(Task.objects.filter(tenant=self.tenant, id__in=chunk).values_list("id", "project_id"))
        current: dict[str, str | None] = {}
        for chunk in _chunks(tasks):
            current.update(Task.objects.filter(id__in=chunk).values_list("id", "parent_id"))
        for r in tasks.values():
            parent = r.parent_id
            if parent == r.id:
                self._warn(r, "parentId names the task itself; imported as a root task")
                parent = None
            elif parent and parent not in known:
                self._warn(r, f"parentId {parent} does not exist; imported as a root task")
                parent = None
            elif parent and known[parent] != r.project_id:
                self._warn(r, f"parentId {parent} is in another project; imported as a root task")
                parent = None
            if current[r.id] != parent:
                Task.objects.filter(id=r.id).update(parent_id=parent)

    # -- links --------------------------------------------------------------------------------

    def _links(self) -> None:
        """Links every pair named by either side (the union is the truth), between rows that
        exist in this tenant and share a project; anything else is a warning."""
        tasks, sessions = self.imported["task"], self.imported["session"]
        wanted: dict[str, list[str]] = {}
        named_by: dict[tuple[str, str], list[tuple[Record, str]]] = {}
        for s in sessions.values():
            for t_id in s.refs:
                wanted.setdefault(s.id, []).append(t_id)
                named_by.setdefault((s.id, t_id), []).append((s, f"taskIds names task {t_id}"))
        for t in sorted(tasks.values(), key=lambda r: (r.fields["created_at"], r.id)):
            for s_id in t.refs:
                wanted.setdefault(s_id, []).append(t.id)
                named_by.setdefault((s_id, t.id), []).append((t, f"sessionIds names session {s_id}"))
        session_rows: dict[str, tuple[str, Any, int]] = {}  # id: (project id, started at, key)
        for chunk in _chunks(wanted):
            session_rows.update((sid, (pid, started, pk)) for sid, pid, started, pk in Session.objects.filter(
                tenant=self.tenant, id__in=chunk).values_list("id", "project_id", "started_at", "pk"))
        task_rows: dict[str, str] = {}
        for chunk in _chunks({t for ts in wanted.values() for t in ts}):
            task_rows.update(Task.objects.filter(tenant=self.tenant, id__in=chunk).values_list("id", "project_id"))
        existing: set[tuple[str, str]] = set()
        for chunk in _chunks(session_rows):
            existing.update(SessionTask.objects.filter(session__tenant=self.tenant, session__id__in=chunk)
                            .values_list("session__id", "task_id"))
        # One insertion order serves both sides' lists: sessions by start, each session's tasks
        # in its own order. Re-importing an export reproduces exactly this order.
        fresh: list[SessionTask] = []
        def by_start(s_id: str) -> tuple[bool, Any, str]:
            return (s_id not in session_rows, session_rows[s_id][1] if s_id in session_rows else 0, s_id)

        for s_id in sorted(wanted, key=by_start):
            for t_id in dict.fromkeys(wanted[s_id]):
                reason = self._dangling(s_id, t_id, session_rows, task_rows)
                if reason:
                    for r, what in named_by[(s_id, t_id)]:
                        self._warn(r, f"{what}, {reason}; no link made")
                elif (s_id, t_id) not in existing:
                    fresh.append(SessionTask(session_id=session_rows[s_id][2], task_id=t_id))
                    self.touched["session"].add(s_id)
                    self.touched["task"].add(t_id)
        SessionTask.objects.bulk_create(fresh, ignore_conflicts=True)
        self.report.links_created = len(fresh)

    @staticmethod
    def _dangling(s_id: str, t_id: str, session_rows: dict[str, tuple[str, Any, int]],
                  task_rows: dict[str, str]) -> str:
        if s_id not in session_rows:
            return f"but session {s_id} does not exist"
        if t_id not in task_rows:
            return f"but task {t_id} does not exist"
        if session_rows[s_id][0] != task_rows[t_id]:
            return f"but session {s_id} (project {session_rows[s_id][0]}) and task {t_id} " \
                   f"(project {task_rows[t_id]}) are in different projects"
        return ""

    # -- the write path -------------------------------------------------------------------------

    def _record_all(self) -> None:
        for kind in KINDS:
            ids = list(self.imported[kind]) + sorted(self.touched[kind] - set(self.imported[kind]))
            after = self._states(kind, ids)
            fetch = _STATE[kind][0]
            for entity_id in ids:
                source = self.imported[kind].get(entity_id)
                where = f"from {source.path}" if source else "by linking"
                counts = self.report.counts[kind]
                resource, action, created_event, updated_event = _RECORDED[kind]
                if (kind, entity_id) in self.created:
                    counts.created += 1
                    event, details = created_event, f"Imported {kind} {entity_id} {where}"
                elif after[entity_id] != self.before[kind].get(entity_id):
                    counts.updated += 1
                    old = self.before[kind].get(entity_id, {})
                    changed = sorted(k for k in after[entity_id] if after[entity_id][k] != old.get(k))
                    event, details = updated_event, f"Re-imported {kind} {entity_id} {where}: {', '.join(changed)}"
                else:
                    if source:
                        counts.unchanged += 1
                    continue
                # The event carries the full API shape, version included.
                payload = _PRESENT[kind](fetch(tenant=self.tenant).get(id=entity_id))
                record(tenant_id=self.tenant.pk, actor=self.actor, action=action, resource_type=resource,
                       resource_id=entity_id, details=details, event=(event, payload),
                       project_id=entity_id if kind == "project" else payload["projectId"])


# -- export -------------------------------------------------------------------------------------


@dataclass
class ExportReport:
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in KINDS})
    problems: list[Problem] = field(default_factory=list)


def legacy_data_export(*, tenant: Tenant, out_dir: Path) -> ExportReport:
    """Writes the tenant's projects, tasks and sessions in the old layout, one file per entity,
    with the API's field names and epoch-ms timestamps (minus ``version``, which the old
    system did not have). Re-importing the result reproduces the same representations."""
    report = ExportReport()
    items: list[tuple[str, str, Path, Mapping[str, Any]]] = []
    for p in project_list(tenant=tenant):
        items.append(("project", p.id, Path(KIND_DIRS["project"]) / f"{p.id}.json", _STATE["project"][1](p)))
    for t in task_list(tenant=tenant):
        items.append(("task", t.id, Path(KIND_DIRS["task"]) / t.project_id / f"{t.id}.json", _STATE["task"][1](t)))
    for s in session_list(tenant=tenant):
        items.append(("session", s.id, Path(KIND_DIRS["session"]) / f"{s.id}.json", _STATE["session"][1](s)))
    for kind, entity_id, rel, data in items:
        # Ids made through the API are not constrained; one with a path separator must not
        # write outside the export directory.
        parts = [entity_id] + ([data["projectId"]] if kind == "task" else [])
        if not all(ID_RE.match(part) for part in parts):
            report.problems.append(Problem(kind, str(out_dir / rel), f"id {entity_id!r} cannot be a file name"))
            continue
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        report.counts[kind] += 1
    for d in KIND_DIRS.values():
        (out_dir / d).mkdir(parents=True, exist_ok=True)
    return report
