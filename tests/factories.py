from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from maestro.core.actors import Actor
from maestro.tenancy.models import Tenant
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
