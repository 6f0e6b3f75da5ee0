"""A task read with its relations (orchestration.work.selectors.tasks): the timeline events and
subtasks read in the task's row are the model instances the ORM reads, field for field."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models.signals import post_init, pre_init

from orchestration.work.models import Subtask, TaskTimelineEvent
from orchestration.work.selectors.tasks import task_get
from orchestration.work.services.tasks import subtask_create, subtask_update, task_timeline_add
from tests.factories import SYSTEM, make_task

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_relations_read_in_the_tasks_row_equal_the_rows_as_the_orm_reads_them(tenant, project,
                                                                             django_assert_num_queries):
    # given: a task with timeline events and subtasks, one of them completed
    task = make_task(tenant, project, "Related")
    first = subtask_create(tenant=tenant, task_id=task.id, actor=SYSTEM, title="one", description="d")
    subtask_create(tenant=tenant, task_id=task.id, actor=SYSTEM, title="two")
    subtask_update(tenant=tenant, task_id=task.id, subtask_id=first.id, actor=SYSTEM, changes={"completed": True})
    task_timeline_add(tenant=tenant, task_id=task.id, actor=SYSTEM, type="update", message="m")

    # when: the task is read, and every field of its relations looked at (no field left to load)
    read = task_get(tenant=tenant, task_id=task.id).relations
    with django_assert_num_queries(0):
        timeline, subtasks = [_fields(e) for e in read.timeline], [_fields(s) for s in read.subtasks]

    # then: the same rows, in the same order, every field equal, stored ones (not to be inserted)
    orm_timeline = list(TaskTimelineEvent.objects.filter(task_id=task.id).order_by("timestamp", "pk_id"))
    orm_subtasks = list(Subtask.objects.filter(task_id=task.id).order_by("order", "created_at", "id"))
    assert timeline == [_fields(e) for e in orm_timeline]
    assert subtasks == [_fields(s) for s in orm_subtasks]
    assert len(read.subtasks) == 2 and len(read.timeline) >= 2
    assert {(o._state.adding, o._state.db) for o in [*read.timeline, *read.subtasks]} == {(False, "default")}
    if connection.vendor == "postgresql":  # made without Model.__init__ there: no init signal may be missed
        for signal in (pre_init, post_init):
            assert not signal.has_listeners(TaskTimelineEvent) and not signal.has_listeners(Subtask)
