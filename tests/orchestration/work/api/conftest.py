from __future__ import annotations

import pytest

from tests.factories import SYSTEM, make_project, make_task


@pytest.fixture
def other_project(tenant):
    """A second project of the same tenant."""
    return make_project(tenant, "Docs")


@pytest.fixture
def foreign_project(other_tenant):
    """A project of another tenant."""
    return make_project(other_tenant, "Theirs")


@pytest.fixture
def task(tenant, project):
    return make_task(tenant, project, "Write the report")


@pytest.fixture
def make_session(db):
    def make(project, tasks=(), **kw):
        from orchestration.work.services.sessions import session_create

        return session_create(tenant=project.tenant, actor=SYSTEM, project=project,
                              task_ids=[t.id for t in tasks], **kw)

    return make
