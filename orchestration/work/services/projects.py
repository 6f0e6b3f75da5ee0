"""Projects: create, edit (If-Match), delete — refused while the project has tasks or sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.exceptions import ProjectHasDependencies
from maestro.tenancy.models import Tenant
from maestro.write_path.catalogue import Action, Resource
from maestro.write_path.services import record_refusal
from orchestration.base import entities
from orchestration.work.models import Project, Session, Task
from orchestration.work.representations import project_repr
from orchestration.work.selectors.projects import project_get

EDITABLE = ("name", "working_dir", "description")
PROJECT: entities.Kind[Project] = entities.Kind(
    model=Project, resource=Resource.PROJECT, label="Project", ident="id",
    lookup=lambda tenant, ident, lock: project_get(tenant=tenant, project_id=ident, lock=lock),
    present=project_repr, scope=lambda project: project.id,
)


def project_create(*, tenant: Tenant, actor: Actor, name: str, working_dir: str = "", description: str = "",
                   project_id: str | None = None, created_at: datetime | None = None,
                   updated_at: datetime | None = None, action: Action = Action.PROJECT_CREATE) -> Project:
    now = timezone.now()
    project = Project(tenant=tenant, name=name, working_dir=working_dir, description=description,
                      created_at=created_at or now, updated_at=updated_at or created_at or now)
    if project_id:
        project.id = project_id
    return entities.create(PROJECT, project, tenant=tenant, actor=actor, action=action,
                           details=f"Created project {name}")


def project_update(*, tenant: Tenant, project_id: str, actor: Actor, changes: dict[str, Any],
                   expected_version: int | None = None) -> Project:
    """Partial update. With ``expected_version`` (If-Match) a stale version is refused (412).
    FOR NO KEY UPDATE: tasks and sessions may be added to the project meanwhile."""
    with entities.editing(PROJECT, tenant=tenant, actor=actor, ident=project_id, lock="no_key",
                          expected_version=expected_version) as edit:
        project = edit.obj
        for field in EDITABLE:
            if field in changes:
                setattr(project, field, changes[field])
        entities.clean_or_400(project, exclude=["tenant"])
        edit.save(EDITABLE)
        edit.record(f"Updated {', '.join(sorted(changes)) or 'nothing'}")
    return project


def _no_dependencies(project: Project) -> None:
    tasks = Task.objects.filter(project=project).count()
    sessions = Session.objects.filter(project=project).count()
    if tasks or sessions:
        raise ProjectHasDependencies(details={"tasks": tasks, "sessions": sessions})


def project_delete(*, tenant: Tenant, project_id: str, actor: Actor, expected_version: int | None = None) -> str:
    try:
        entities.delete(PROJECT, tenant=tenant, actor=actor, ident=project_id, expected_version=expected_version,
                        guard=_no_dependencies, details=lambda project: f"Deleted project {project.name}")
    except IntegrityError:
        # A task or session was created in this project while we deleted it; the database's
        # foreign key refused the delete at commit, after the unit: record the refusal here.
        refusal = ProjectHasDependencies()
        record_refusal(PROJECT.change(tenant=tenant, actor=actor, action=Action.PROJECT_DELETE, ident=project_id),
                       refusal)
        raise refusal from None
    return project_id
