from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import PreconditionFailed, ProjectHasDependencies
from maestro.write_path import record, service
from orchestration.models import Project, Session, Task
from orchestration.representations import project_repr
from orchestration.selectors.projects import project_get

PROJECT_FIELDS = ("name", "working_dir", "description")


def project_create(*, tenant: Any, actor: Actor, name: str, working_dir: str = "", description: str = "",
                   project_id: str | None = None, created_at: datetime | None = None,
                   updated_at: datetime | None = None) -> Project:
    now = timezone.now()
    with service():
        project = Project(tenant=tenant, name=name, working_dir=working_dir, description=description,
                          created_at=created_at or now, updated_at=updated_at or created_at or now)
        if project_id:
            project.id = project_id
        project.full_clean()
        project.save(force_insert=True)
        record(tenant=tenant, actor=actor, action="project.create", resource_type="project", resource_id=project.id,
               details=f"Created project {name}", event=("project:created", project_repr(project)))
    return project


def project_update(*, tenant: Any, project_id: str, actor: Actor, changes: dict[str, Any],
                   expected_version: int | None = None) -> Project:
    """Partial update. With ``expected_version`` (If-Match) a stale version is refused (412)."""
    with service():
        project = project_get(tenant=tenant, project_id=project_id, for_update=True)
        if expected_version is not None and project.version != expected_version:
            raise PreconditionFailed(details={"currentVersion": project.version, "expectedVersion": expected_version})
        for field in PROJECT_FIELDS:
            if field in changes:
                setattr(project, field, changes[field])
        project.updated_at = timezone.now()
        project.full_clean()
        Project.objects.filter(pk=project.pk).update(
            version=F("version") + 1, updated_at=project.updated_at,
            **{f: getattr(project, f) for f in PROJECT_FIELDS},
        )
        project.version += 1
        record(tenant=tenant, actor=actor, action="project.update", resource_type="project", resource_id=project.id,
               details=f"Updated {', '.join(sorted(changes)) or 'nothing'}",
               event=("project:updated", project_repr(project)))
    return project


def project_delete(*, tenant: Any, project_id: str, actor: Actor, expected_version: int | None = None) -> str:
    try:
        with service():
            project = project_get(tenant=tenant, project_id=project_id, for_delete=True)
            if expected_version is not None and project.version != expected_version:
                raise PreconditionFailed(details={"currentVersion": project.version,
                                                  "expectedVersion": expected_version})
            tasks = Task.objects.filter(project=project).count()
            sessions = Session.objects.filter(project=project).count()
            if tasks or sessions:
                raise ProjectHasDependencies(details={"tasks": tasks, "sessions": sessions})
            Project.objects.filter(pk=project.pk).delete()
            record(tenant=tenant, actor=actor, action="project.delete", resource_type="project",
                   resource_id=project_id, details=f"Deleted project {project.name}",
                   event=("project:deleted", {"id": project_id}))
    except IntegrityError:
        # A task or session was created in this project while we deleted it; the database's
        # foreign key refused the delete at commit.
        raise ProjectHasDependencies() from None
    return project_id
