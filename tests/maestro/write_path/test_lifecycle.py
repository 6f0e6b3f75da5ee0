"""Every entity's create/update/delete is recorded under the catalogue's names for its resource:
``lifecycle`` derives them, and a resource missing from the catalogue fails when its kind is
declared (at import), never by inventing a name."""

from __future__ import annotations

import pytest

from maestro.write_path.catalogue import Action, Event, Resource, lifecycle
from orchestration.control.services.merge_trains import MERGE_TRAIN
from orchestration.runs.services import RUN
from orchestration.work.services.tasks import TASK


def test_a_resource_with_the_full_cycle_gets_its_six_names():
    got = lifecycle(Resource.TASK)
    assert (got.created, got.updated, got.deleted) == (Event.TASK_CREATED, Event.TASK_UPDATED, Event.TASK_DELETED)
    assert (got.create, got.update, got.delete) == (Action.TASK_CREATE, Action.TASK_UPDATE, Action.TASK_DELETE)
    assert TASK.lifecycle == got


def test_a_resource_never_deleted_has_no_delete_names():
    assert (RUN.lifecycle.deleted, RUN.lifecycle.delete) == (None, None)
    assert (RUN.lifecycle.created, RUN.lifecycle.update) == (Event.RUN_CREATED, Action.RUN_UPDATE)


def test_an_update_action_of_its_own_replaces_the_default():
    assert MERGE_TRAIN.update == Action.MERGE_TRAIN_SET_STATUS
    assert MERGE_TRAIN.lifecycle.updated == Event.MERGE_TRAIN_UPDATED


@pytest.mark.parametrize("resource", [Resource.LEDGER, Resource.AUDIT_LOG, Resource.API])
def test_a_resource_without_creation_in_the_catalogue_fails_loudly(resource):
    with pytest.raises(ValueError, match="is not an (event type|audit action) of the catalogue"):
        lifecycle(resource)
