"""What a client's Accept header gets: JSON when it takes JSON, a 406 in the error envelope when
it takes none, and ``?format=`` as DRF has it."""

from __future__ import annotations

import pytest

from tests.factories import make_project
from tests.support.api import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(tenant):
    return make_project(tenant=tenant, name="negotiated")


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json; charset=utf-8",
                                    "application/*", "text/html, application/json;q=0.9", "*/*;q=0.1"])
def test_a_client_that_takes_json_gets_the_same_json_answer(api_client, project, accept):
    # when
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api_client.get(f"/api/projects/{project.id}", **headers)

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["id"] == project.id
    assert response.json()["name"] == "negotiated"


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/csv"])
def test_a_client_that_takes_no_json_is_refused_in_the_error_envelope(api_client, project, accept):
    response = api_client.get(f"/api/projects/{project.id}", HTTP_ACCEPT=accept)
    assert_error(response, 406, "VALIDATION_ERROR")


def test_the_format_parameter_is_still_drfs(api_client, project):
    assert api_client.get(f"/api/projects/{project.id}?format=json").status_code == 200
    assert_error(api_client.get(f"/api/projects/{project.id}?format=xml"), 404, "NOT_FOUND")
