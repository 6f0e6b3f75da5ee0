from __future__ import annotations

import pytest

from tests.support.api import assert_error
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db

URL = "/api/maestro/workflows"


def steps(*items):
    return {"steps": list(items)}


BAD = [
    ("cycle", steps({"id": "a", "action": "noop", "dependsOn": ["c"]},
                    {"id": "b", "action": "noop", "dependsOn": ["a"]},
                    {"id": "c", "action": "noop", "dependsOn": ["b"]}), "a", "cycle: a -> c -> b -> a"),
    ("self", steps({"id": "a", "action": "noop", "dependsOn": ["a"]}), "a", "depends on itself"),
    ("unknown action", steps({"id": "a", "action": "noop"}, {"id": "x", "action": "k8s.delete_pod"}), "x",
     "unknown action k8s.delete_pod"),
    ("missing dependency", steps({"id": "a", "action": "noop", "dependsOn": ["ghost"]}), "a",
     "depends on unknown step ghost"),
    ("duplicate id", steps({"id": "a", "action": "noop"}, {"id": "a", "action": "sleep"}), "a", "Duplicate step id a"),
    ("schema: bad retry", steps({"id": "a", "action": "noop", "retry": {"maxAttempts": 0}}), "a", "maxAttempts"),
    ("schema: unknown key", steps({"id": "a", "action": "noop", "when": "always"}), "a", "when"),
    ("schema: no steps", {"steps": []}, None, "spec.steps"),
]


@pytest.mark.parametrize(("label", "spec", "step", "message"), BAD, ids=[b[0] for b in BAD])
def test_an_invalid_spec_is_a_400_naming_the_step_and_writes_nothing(api_client, tenant, label, spec, step, message):
    # given
    mark = Mark(tenant)

    # when
    response = api_client.post(URL, {"name": "deploy", "spec": spec}, format="json")

    # then
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["details"]["step"] == step
    assert message in body["message"]
    mark.assert_nothing_written()


def test_yaml_that_is_not_yaml_or_both_spec_forms_are_400s(api_client, tenant):
    mark = Mark(tenant)

    broken = api_client.post(URL, {"name": "w", "specYaml": "steps: [\n"}, format="json")
    both = api_client.post(URL, {"name": "w", "spec": {"steps": []}, "specYaml": "steps: []"}, format="json")
    neither = api_client.post(URL, {"name": "w"}, format="json")

    assert "not valid YAML" in assert_error(broken, 400, "VALIDATION_ERROR")["message"]
    assert assert_error(both, 400, "VALIDATION_ERROR")["message"] == "Give exactly one of spec and specYaml"
    assert assert_error(neither, 400, "VALIDATION_ERROR")["message"] == "Give exactly one of spec and specYaml"
    mark.assert_nothing_written()


def test_the_schema_is_published_and_referenced_in_the_openapi_document(api_client):
    schema = api_client.get(f"{URL}/schema")
    openapi = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert schema.status_code == 200
    assert schema.json()["$id"] == "/api/maestro/workflows/schema"
    assert schema.json()["$defs"]["step"]["required"] == ["id", "action"]
    assert "/api/maestro/workflows/schema" in openapi.content.decode()
