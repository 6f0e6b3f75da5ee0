from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.tenancy.models import Tenant
from orchestration.runs.models import Run
from orchestration.work.models import Project

SYSTEM = Actor.system("tests")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")


def make_token(*, username: str, tenant: Tenant, role: str) -> str:
    from maestro.tenancy.services import user_with_token

    return user_with_token(username=username, tenant_slug=tenant.slug, role=role, actor=SYSTEM)


def make_project(tenant: Tenant, name: str = "Payments") -> Project:
    from orchestration.work.services.projects import project_create

    return project_create(tenant=tenant, actor=SYSTEM, name=name)


def make_task(tenant: Tenant, project: Project, title: str = "Do it", **kw):  # type: ignore[no-untyped-def]
    from orchestration.work.services.tasks import task_create

    return task_create(tenant=tenant, actor=SYSTEM, project=project, title=title, **kw)


def make_run(tenant: Tenant, *, status: str = "succeeded", minutes_ago: float = 1, duration_ms: int | None = 1000,
             pipeline: str = "build", cost: float = 0.0, executor_id: str = "") -> Run:
    """A run row as the engine leaves it (created ``minutes_ago``, by the agent ``executor_id``)."""
    created = timezone.now() - timedelta(minutes=minutes_ago)
    finished = status in Run.FINISHED
    return Run.objects.create(
        tenant=tenant, pipeline=pipeline, pipeline_id=f"pl-{pipeline}", status=status, created_at=created,
        updated_at=created, started_at=created if status != "queued" else None,
        completed_at=created + timedelta(milliseconds=duration_ms or 0) if finished else None,
        duration_ms=duration_ms if finished else None, cost=cost, executor_id=executor_id)
