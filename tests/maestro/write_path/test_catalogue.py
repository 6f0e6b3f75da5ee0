"""The catalogue is the only source of event types, audit actions and resource types: a name
not in it fails loudly, before anything is written."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from maestro.write_path.catalogue import Action, Event, Resource, audit_action, event_type, request_action
from maestro.write_path.services import emit, record, service
from tests.factories import SYSTEM
from tests.support.writes import Mark


def test_an_unknown_audit_action_fails_before_anything_is_written(tenant):
    # given
    before = Mark(tenant)
    # when / then
    with pytest.raises(ValueError, match="'project.creat' is not an audit action"), service():
        record(tenant_id=tenant.pk, actor=SYSTEM, action="project.creat", resource_type=Resource.PROJECT,
               resource_id="p1")
    before.assert_nothing_written()


def test_an_unknown_event_type_fails_before_anything_is_written(tenant):
    before = Mark(tenant)
    with pytest.raises(ValueError, match="'project:create' is not an event type"), service():
        record(tenant_id=tenant.pk, actor=SYSTEM, action=Action.PROJECT_CREATE, resource_type=Resource.PROJECT,
               resource_id="p1", event=("project:create", {}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'task:changed' is not an event type"), service():
        emit(tenant_id=tenant.pk, type="task:changed", data={})  # type: ignore[arg-type]
    before.assert_nothing_written()


def test_an_unknown_resource_type_fails(tenant):
    with pytest.raises(ValueError, match="'projekt' is not a resource type"), service():
        record(tenant_id=tenant.pk, actor=SYSTEM, action=Action.PROJECT_CREATE, resource_type="projekt",
               resource_id="p1")


def test_names_are_unique_and_follow_the_conventions():
    assert len({e.value for e in Event}) == len(Event)
    assert len({a.value for a in Action}) == len(Action)
    assert all(e.value.count(":") == 1 and e.value.split(":")[0] for e in Event)
    assert all(a.value.count(".") == 1 and a.value.split(".")[0] in {r.value for r in Resource} | {"audit"}
               for a in Action)


def test_the_one_non_constant_action_is_a_request_line():
    assert audit_action(request_action("POST", "/api/tasks")) == "POST /api/tasks"
    assert len(request_action("PATCH", "/api/tasks/" + "x" * 200)) == 100
    assert event_type("task:created") is Event.TASK_CREATED
    with pytest.raises(ValueError):
        audit_action("FETCH /api/tasks")


def _views(resolver: URLResolver) -> list[type]:
    found: list[type] = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            found += _views(pattern)
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
            found.append(pattern.callback.cls)
    return found


def test_every_api_view_names_a_catalogue_resource():
    # A write refused by role is recorded under the view's resource type: it must exist.
    views = [v for v in _views(get_resolver()) if hasattr(v, "resource_type")]
    assert len(views) > 40
    assert {v.__name__: v.resource_type for v in views if v.resource_type not in Resource._value2member_map_} == {}
