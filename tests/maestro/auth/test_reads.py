"""maestro.auth.reads: a token-authenticated plain GET of a task is answered without DRF, with the
very status, headers and body DRF answers (MAESTRO_LEAN_READS off); every other request — a
refusal, a missing task, another negotiation — is DRF's, in the one error envelope."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework.views import APIView

from maestro.tenancy.models import ApiToken
from maestro.tenancy.services import api_token_create, api_token_revoke
from orchestration.work.services.tasks import subtask_create, task_timeline_add
from tests.factories import SYSTEM, make_project, make_task, make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatched(monkeypatch) -> list[str]:
    """The paths DRF's dispatch ran for."""
    seen: list[str] = []
    original = APIView.dispatch

    def dispatch(self, request, *args, **kwargs):
        seen.append(request.path)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "dispatch", dispatch)
    return seen


def _both(settings, send):
    """``send()`` answered on the lean path and on DRF's: each answer's status, headers (less
    the request id, new per request) and body."""
    answers = []
    for lean in (True, False):
        settings.MAESTRO_LEAN_READS = lean
        r = send()
        answers.append((r.status_code, {k: v for k, v in r.items() if k != "X-Request-ID"}, r.content))
    return answers


@pytest.fixture
def task(tenant, project):
    task = make_task(tenant, project, "Lean")
    subtask_create(tenant=tenant, task_id=task.id, actor=SYSTEM, title="s")
    task_timeline_add(tenant=tenant, task_id=task.id, actor=SYSTEM, type="update",
                      message="m é ✓ \u2028 \u2029 \\ \" </script>")
    return task


@pytest.fixture
def paths(tenant, project, task):
    """A path of each kind of object read on the lean path: a task, a session, a project."""
    from orchestration.work.services.sessions import session_create

    session = session_create(tenant=tenant, actor=SYSTEM, project=project, task_ids=[task.id], name="lean")
    return {"task": f"/api/tasks/{task.id}", "session": f"/api/sessions/{session.id}",
            "project": f"/api/projects/{project.id}"}


def test_a_plain_read_is_answered_without_drf_byte_for_byte_as_drf_answers_it(settings, api_client, task,
                                                                               dispatched):
    # when
    lean, drf = _both(settings, lambda: api_client.get(f"/api/tasks/{task.id}"))
    # then: the same answer; DRF ran only for the second
    assert lean == drf
    status, headers, body = lean
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["ETag"] == '"3"'
    assert headers["Allow"] == "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    assert '"message":"m é ✓ \\u2028 \\u2029 \\\\ \\" </script>"'.encode() in body  # as DRF escapes them
    assert dispatched == [f"/api/tasks/{task.id}"]


@pytest.mark.parametrize("kind", ["task", "session", "project"])
@pytest.mark.parametrize("if_none_match", [None, "current", '"0"'])
def test_each_kind_is_answered_alike_on_both_paths(settings, api_client, paths, dispatched, kind, if_none_match):
    # given: the object's current ETag
    path = paths[kind]
    etag = api_client.get(path)["ETag"]
    dispatched.clear()
    headers = {} if if_none_match is None else {"HTTP_IF_NONE_MATCH": etag if if_none_match == "current" else
                                                if_none_match}
    # when
    lean, drf = _both(settings, lambda: api_client.get(path, **headers))
    # then: the same answer, the lean path's first
    assert lean == drf
    assert lean[0] == (304 if if_none_match == "current" else 200)
    assert lean[1]["ETag"] == etag
    assert dispatched == [path]


@pytest.mark.parametrize("if_none_match, status", [
    ('"3"', 304), ('W/"3"', 304), ('"1", "3"', 304), ("*", 304), ('"2"', 200), ("3", 200),
])
def test_if_none_match_is_answered_alike(settings, api_client, task, dispatched, if_none_match, status):
    # when
    lean, drf = _both(settings, lambda: api_client.get(f"/api/tasks/{task.id}", HTTP_IF_NONE_MATCH=if_none_match))
    # then
    assert lean == drf
    assert lean[0] == status
    assert lean[1]["ETag"] == '"3"'
    assert len(dispatched) == 1  # the lean path answered the first


@pytest.mark.parametrize("path", ["/api/sessions/sess_nope", "/api/projects/proj_nope"])
def test_a_missing_session_or_project_is_drfs_404(settings, api_client, dispatched, path):
    # when
    lean, drf = _both(settings, lambda: api_client.get(path))
    # then
    assert lean == drf
    assert lean[0] == 404
    assert len(dispatched) == 2


def _other_tenant_task(other_tenant):
    return make_task(other_tenant, make_project(other_tenant, "Theirs"), "Theirs")


def _revoked_token(tenant):
    user = get_user_model().objects.create(username="gone")
    from maestro.tenancy.services import membership_set
    membership_set(user=user, tenant=tenant, role="operator", actor=SYSTEM)
    token, raw = api_token_create(user=user, tenant=tenant, actor=SYSTEM)
    api_token_revoke(token=token, actor=SYSTEM)
    return raw


@pytest.mark.parametrize("case, status, code", [
    ("missing task", 404, "TASK_NOT_FOUND"),
    ("another tenant's task", 404, "TASK_NOT_FOUND"),
    ("revoked token", 401, "UNAUTHORIZED"),
    ("unknown token", 401, "UNAUTHORIZED"),
    ("empty bearer", 401, "UNAUTHORIZED"),
    ("not a member", 403, "FORBIDDEN"),
    ("token of another tenant asked for", 403, "FORBIDDEN"),
    ("html only", 406, "VALIDATION_ERROR"),
    ("no credentials", 401, "UNAUTHORIZED"),
])
def test_every_other_answer_is_drfs_in_the_error_envelope(settings, tenant, other_tenant, task, dispatched,
                                                          case, status, code):
    # given
    client, path, headers = APIClient(), f"/api/tasks/{task.id}", {}
    raw = make_token(username="reader", tenant=tenant, role="viewer")
    if case == "missing task":
        path = "/api/tasks/task_nope"
    elif case == "another tenant's task":
        path = f"/api/tasks/{_other_tenant_task(other_tenant).id}"
    elif case == "revoked token":
        raw = _revoked_token(tenant)
    elif case == "unknown token":
        raw = ApiToken.PREFIX + "x" * 40
    elif case == "empty bearer":
        raw = ""
    elif case == "not a member":
        raw = make_token(username="outsider", tenant=other_tenant, role="viewer")
        headers["HTTP_X_MAESTRO_TENANT"] = tenant.slug
    elif case == "token of another tenant asked for":
        headers["HTTP_X_MAESTRO_TENANT"] = other_tenant.slug
    elif case == "html only":
        headers["HTTP_ACCEPT"] = "text/html"
    if case != "no credentials":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    # when
    lean, drf = _both(settings, lambda: client.get(path, **headers))
    # then: both DRF's (it ran twice), the same refusal
    assert lean == drf
    assert lean[0] == status
    assert f'"code":"{code}"'.encode() in lean[2]
    assert len(dispatched) == 2


@pytest.mark.parametrize("request_kwargs", [
    {"path": "?format=json"}, {"method": "head"}, {"HTTP_ACCEPT": "application/json; q=0.9"},
])
def test_other_forms_of_a_good_read_go_to_drf_and_are_answered(settings, api_client, task, dispatched,
                                                               request_kwargs):
    # given
    kwargs = dict(request_kwargs)
    send = getattr(api_client, kwargs.pop("method", "get"))
    path = f"/api/tasks/{task.id}{kwargs.pop('path', '')}"
    # when
    lean, drf = _both(settings, lambda: send(path, **kwargs))
    # then
    assert lean == drf
    assert lean[0] == 200
    assert len(dispatched) == 2


def test_a_token_revoked_after_a_lean_read_is_refused_at_once(api_client, tenant, task, dispatched):
    # given: a read served on the lean path
    assert api_client.get(f"/api/tasks/{task.id}").status_code == 200
    assert dispatched == []
    # when: the token is revoked
    api_token_revoke(token=ApiToken.objects.get(user__username="olivia"), actor=SYSTEM)
    # then: the very next read is refused
    r = api_client.get(f"/api/tasks/{task.id}")
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHORIZED")


def test_a_view_that_asks_more_than_the_viewer_role_refuses_a_viewer_on_either_path(settings, tenant, task, dispatched):
    # given: the task read behind the admin role, and a viewer's token
    from django.test import RequestFactory

    from maestro.auth.reads import lean_read_view
    from maestro.core.roles import Role
    from orchestration.work.api.tasks import TaskDetailView

    class AdminsOnly(TaskDetailView):
        read_role = Role.ADMIN

    view = lean_read_view(AdminsOnly)
    raw = make_token(username="vera", tenant=tenant, role="viewer")

    def send():
        response = view(RequestFactory().get(f"/api/tasks/{task.id}", HTTP_AUTHORIZATION=f"Bearer {raw}"),
                        task_id=task.id)
        return response.render() if hasattr(response, "render") else response

    # when
    lean, drf = _both(settings, send)
    # then: refused by DRF both times
    assert lean == drf
    assert lean[0] == 403
    assert len(dispatched) == 2
