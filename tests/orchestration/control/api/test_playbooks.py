from __future__ import annotations

import pytest

from orchestration.control.models.playbooks import Playbook
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db

URL = "/api/maestro/playbooks"


def test_list_returns_the_old_playbook_shape(api_client, seeded, legacy_db):
    # when
    r = api_client.get(URL)

    # then
    assert r.json() == [{**pb, "version": 1} for pb in legacy_db["playbooks"]]


def test_create_returns_201_with_the_playbook(api_client, seeded):
    # given
    mark = Mark(seeded)
    body = {"id": "pb-drain-node", "name": "Drain node", "description": "Drains a node that keeps failing",
            "triggers": ["node_flapping"], "actions": ["http.request", "maestro.create_task"], "isEnabled": True}

    # when
    r = api_client.post(URL, body, format="json")

    # then
    assert r.status_code == 201
    assert r.json() == {**body, "version": 1}
    assert Playbook.objects.filter(tenant=seeded, slug="pb-drain-node").count() == 1
    assert mark.audit_summary() == [("playbook.create", "pb-drain-node", "allowed", "")]
    assert mark.event_types() == ["audit:created", "playbook:created"]


def test_create_without_an_id_generates_one_and_defaults_to_disabled(api_client, seeded):
    # when
    r = api_client.post(URL, {"name": "Scale up"}, format="json")

    # then
    assert r.status_code == 201
    assert r.json()["id"].startswith("pb-")
    assert r.json()["isEnabled"] is False


@pytest.mark.parametrize("body, message", [
    ({"description": "no name"}, "name is required"),
    ({"name": "   "}, "name is required"),
    ({"name": 7}, "name: Not a valid string."),
    ({"name": "x", "triggers": "pod_crash_loop"}, 'triggers: Expected a list of items but got type "str".'),
    ({"name": "x", "triggers": [""]}, "triggers: 0: This field may not be blank."),
    ({"name": "x", "isEnabled": "yes"}, "isEnabled: Must be a valid boolean."),
    ({"name": "x", "id": "has spaces"}, "id must be 1-100 letters, digits, '.', '_' or '-'"),
])
def test_bad_create_is_400_and_stores_nothing(api_client, seeded, body, message):
    # given
    mark = Mark(seeded)

    # when
    r = api_client.post(URL, body, format="json")

    # then
    assert r.status_code == 400
    assert r.json()["message"] == message
    assert Playbook.objects.filter(tenant=seeded).count() == 1
    mark.assert_nothing_written()


def test_create_with_a_taken_id_is_409_and_denied(api_client, seeded):
    # given
    mark = Mark(seeded)

    # when
    r = api_client.post(URL, {"id": "pb-restart-pods", "name": "Dup"}, format="json")

    # then
    assert r.status_code == 409
    assert Playbook.objects.get(tenant=seeded, slug="pb-restart-pods").name == "Restart Stuck Pods"
    assert mark.audit_summary() == [("playbook.create", "pb-restart-pods", "denied", "unique_id")]


def test_patch_disables_and_edits(api_client, seeded):
    # when
    disabled = api_client.patch(f"{URL}/pb-restart-pods", {"isEnabled": False}, format="json")
    edited = api_client.patch(f"{URL}/pb-restart-pods", {"triggers": ["pod_crash_loop", "oom_killed"]},
                              format="json", HTTP_IF_MATCH='"2"')

    # then
    assert disabled.status_code == 200
    assert disabled.json()["isEnabled"] is False
    assert edited.status_code == 200
    assert edited.json()["triggers"] == ["pod_crash_loop", "oom_killed"]
    assert edited.json()["version"] == 3


def test_patch_with_a_blank_name_is_400(api_client, seeded):
    # when
    r = api_client.patch(f"{URL}/pb-restart-pods", {"name": ""}, format="json")

    # then
    assert r.status_code == 400
    assert r.json()["message"] == "name is required"


def test_stale_patch_is_412(api_client, seeded):
    # given
    api_client.patch(f"{URL}/pb-restart-pods", {"isEnabled": False}, format="json")

    # when
    r = api_client.patch(f"{URL}/pb-restart-pods", {"isEnabled": True}, format="json", HTTP_IF_MATCH='"1"')

    # then
    assert r.status_code == 412
    assert Playbook.objects.get(tenant=seeded, slug="pb-restart-pods").is_enabled is False


def test_viewer_cannot_create(viewer_client, seeded):
    # when
    r = viewer_client.post(URL, {"name": "x"}, format="json")

    # then
    assert r.status_code == 403
    assert Playbook.objects.filter(tenant=seeded).count() == 1
