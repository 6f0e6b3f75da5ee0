"""The operators' pages: who may open which tenant's dashboard, what it shows, and the pages'
own sign-in and sign-out (password; single sign-on is in tests/maestro/auth/test_sso.py and
tests/e2e/test_sso_browser.py)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from maestro.core.actors import Actor
from maestro.core.roles import Role
from maestro.tenancy.models import Membership
from maestro.tenancy.services import tenant_get_or_create
from maestro.write_path.models import AuditEvent
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.loops import AutonomicLoop
from orchestration.work.services.sessions import session_create
from orchestration.work.services.tasks import subtask_create
from tests.factories import make_project, make_run, make_task

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def person(username: str, *memberships: tuple[object, str], password: str = "pass-word-9", **extra: bool):
    user = get_user_model().objects.create_user(username, "", password, **extra)
    for tenant, role in memberships:
        Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_anonymous_visit_is_sent_to_the_sign_in_page(client):
    response = client.get("/?tenant=default")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=%2F%3Ftenant%3Ddefault"
    assert not AuditEvent.objects.exists()


def test_the_dashboard_shows_the_tenants_loops_agents_runs_and_audit(tenant):
    AutonomicLoop.objects.create(tenant=tenant, slug="rel", name="Reliability guard", type="reliability",
                                 last_decision="quarantined agent-7", created_at=NOW, updated_at=NOW)
    AgentProfile.objects.create(tenant=tenant, slug="a1", name="Claude coder", routing_weight=70,
                                created_at=NOW, updated_at=NOW)
    make_run(tenant, status="succeeded")
    make_run(tenant, status="failed")
    client = signed_in(person("olga", (tenant, Role.OPERATOR)))

    page = client.get("/")

    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="tenant-name">Default<' in html or 'id="tenant-name">default<' in html
    assert '<span id="role">operator</span>' in html
    assert "Reliability guard" in html and "quarantined agent-7" in html
    assert "Claude coder" in html and "> 70</td>" in html
    assert page.context["stats"]["completedRuns"] == 1 and page.context["stats"]["failedRuns"] == 1
    assert [w["name"] for w in page.context["health"]["workstreams"]]
    assert page.context["ledger"]["height"] >= 0


def test_a_member_of_two_tenants_switches_between_them_and_sees_only_that_tenants_rows(tenant):
    beta = tenant_get_or_create(slug="beta")
    AgentProfile.objects.create(tenant=tenant, slug="a1", name="Default agent", created_at=NOW, updated_at=NOW)
    AgentProfile.objects.create(tenant=beta, slug="b1", name="Beta agent", created_at=NOW, updated_at=NOW)
    client = signed_in(person("pat", (tenant, Role.VIEWER), (beta, Role.ADMIN)))

    on_beta = client.get("/?tenant=beta").content.decode()
    assert "Beta agent" in on_beta and "Default agent" not in on_beta
    assert '<span id="role">admin</span>' in on_beta
    # the pages remember the tenant last opened
    again = client.get("/").content.decode()
    assert "Beta agent" in again and "Default agent" not in again


def test_a_tenant_the_person_is_not_a_member_of_is_refused_without_showing_its_rows(tenant):
    other = tenant_get_or_create(slug="other")
    AgentProfile.objects.create(tenant=other, slug="x", name="Secret agent", created_at=NOW, updated_at=NOW)
    client = signed_in(person("pat", (tenant, Role.ADMIN)))

    response = client.get("/?tenant=other")

    assert response.status_code == 403
    assert "Secret agent" not in response.content.decode()
    assert response.context["tenants"][0].slug == "default"


def test_a_person_without_any_membership_is_told_so(db):
    response = signed_in(person("newcomer")).get("/")
    assert response.status_code == 200
    assert 'id="no-tenant"' in response.content.decode() and "not a member of any tenant" in response.content.decode()


def test_a_superuser_may_open_every_tenant_as_admin(tenant):
    tenant_get_or_create(slug="other")
    root = get_user_model().objects.create_superuser("root", "", "x")
    page = signed_in(root).get("/?tenant=other")
    assert page.status_code == 200
    assert [(t.slug, t.role) for t in page.context["tenants"]] == [("default", "admin"), ("other", "admin")]


def test_a_password_sign_in_lands_on_next_and_is_audited(tenant, client):
    person("olga", (tenant, Role.OPERATOR))
    form = client.get("/login?next=/%3Ftenant%3Ddefault")
    assert form.status_code == 200 and b'id="password-login"' in form.content and b'id="sso-login"' not in form.content

    response = client.post("/login", {"username": "olga", "password": "pass-word-9", "next": "/?tenant=default"})

    assert response.status_code == 302 and response["Location"] == "/?tenant=default"
    assert list(AuditEvent.objects.values_list("action", "actor", "details")) == [
        ("user.sign_in", "olga", "olga signed in (password) as operator")]
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused_with_a_message_and_no_session(tenant, client):
    person("olga", (tenant, Role.OPERATOR))
    response = client.post("/login", {"username": "olga", "password": "wrong", "next": "/"})
    assert response.status_code == 400
    assert b'role="alert"' in response.content
    assert "_auth_user_id" not in client.session and not AuditEvent.objects.exists()


def test_a_next_to_another_site_lands_on_the_dashboard(tenant, client):
    person("olga", (tenant, Role.OPERATOR))
    response = client.post("/login", {"username": "olga", "password": "pass-word-9", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_password_sign_in_switched_off_refuses_the_form(tenant, client, settings):
    settings.MAESTRO_LOCAL_LOGIN = False
    person("olga", (tenant, Role.OPERATOR))
    assert b'id="local-login-off"' in client.get("/login").content
    response = client.post("/login", {"username": "olga", "password": "pass-word-9"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session and not AuditEvent.objects.exists()


def test_the_sign_in_page_offers_single_sign_on_when_configured(client, settings):
    settings.SSO_ISSUER, settings.SSO_CLIENT_ID = "https://idp.example", "maestro"
    settings.SSO_PROVIDER_NAME = "Acme ID"
    page = client.get("/login?next=/").content.decode()
    assert '<a class="button primary" id="sso-login" href="/sso/login?next=%2F">Sign in with Acme ID</a>' in page


def test_sign_out_ends_the_session_and_is_audited(tenant):
    client = signed_in(person("olga", (tenant, Role.OPERATOR)))
    assert client.get("/logout").status_code == 405
    response = client.post("/logout")
    assert response.status_code == 302 and response["Location"] == "/login"
    assert list(AuditEvent.objects.values_list("action", "details")) == [
        ("user.sign_out", "olga signed out (password)")]
    assert client.get("/").status_code == 302


def test_the_admin_is_maestros_and_links_to_the_dashboard(db):
    root = get_user_model().objects.create_superuser("root", "", "x")
    page = signed_in(root).get("/admin/").content.decode()
    assert "Maestro administration" in page and "Django administration" not in page
    assert '<a href="/">View site</a>' in page


def test_a_websocket_handshake_on_the_root_path_still_reaches_the_old_clients_stream():
    from maestro.asgi import websocket_urlpatterns

    assert any(p.pattern.regex.pattern == "^$" for p in websocket_urlpatterns)


def test_a_section_is_served_alone_for_a_live_page_to_swap_in(tenant):
    AgentProfile.objects.create(tenant=tenant, slug="a1", name="Claude coder", created_at=NOW, updated_at=NOW)
    client = signed_in(person("olga", (tenant, Role.VIEWER)))

    response = client.get("/sections/agents?tenant=default")

    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith('<section data-section="agents" data-events="agent:"') and html.endswith("</section>")
    assert "Claude coder" in html and "<html" not in html


def test_a_viewer_gets_no_loop_controls_and_an_operator_does(tenant):
    AutonomicLoop.objects.create(tenant=tenant, slug="rel", name="Guard", type="reliability",
                                 created_at=NOW, updated_at=NOW)
    assert b"data-loop-toggle" not in signed_in(person("vic", (tenant, Role.VIEWER))).get("/sections/loops").content
    operator_page = signed_in(person("olga", (tenant, Role.OPERATOR))).get("/sections/loops").content.decode()
    assert 'data-loop-toggle="rel" data-version="1"' in operator_page and 'data-to="paused"' in operator_page


@pytest.mark.parametrize("path, status", [("/sections/nope", 404), ("/sections/agents?tenant=other", 403)])
def test_a_section_that_is_not_one_or_of_another_tenant_is_refused(tenant, path, status):
    tenant_get_or_create(slug="other")
    assert signed_in(person("olga", (tenant, Role.OPERATOR))).get(path).status_code == status


def test_a_section_asked_for_without_a_session_is_a_401_not_a_login_page(client):
    assert client.get("/sections/agents").status_code == 401


def test_the_dashboard_lists_projects_with_their_task_counts_and_links_to_each_board(tenant):
    project = make_project(tenant, "Payments")
    make_task(tenant, project, "a")
    make_task(tenant, project, "b", status="blocked")
    html = signed_in(person("olga", (tenant, Role.VIEWER))).get("/").content.decode()
    assert f'<a href="/projects/{project.id}">Payments</a>' in html
    assert page_row(html, f"project-{project.id}") == ["1", "0", "1", "0", "2"]


def page_row(html: str, row_id: str) -> list[str]:
    row = html.split(f'id="{row_id}"', 1)[1].split("</tr>", 1)[0]
    return re.findall(r'<td class="num">([^<]*)</td>', row)


def test_the_board_shows_tasks_by_status_with_subtasks_and_sessions(tenant):
    project = make_project(tenant, "Payments")
    parent = make_task(tenant, project, "Ship checkout")
    child = make_task(tenant, project, "Write tests", parent_id=parent.id, status="in_progress")
    subtask_create(tenant=tenant, actor=Actor.system("t"), task_id=parent.id, title="draft the plan")
    session = session_create(tenant=tenant, actor=Actor.system("t"), project=project, task_ids=[parent.id],
                             name="Claude on checkout")
    make_task(tenant, make_project(tenant, "Elsewhere"), "Not on this board")

    page = signed_in(person("olga", (tenant, Role.OPERATOR))).get(f"/projects/{project.id}")

    assert page.status_code == 200
    columns = {c["status"]: [t["title"] for t in c["tasks"]] for c in page.context["columns"]}
    assert columns == {"pending": ["Ship checkout"], "in_progress": ["Write tests"], "blocked": [], "completed": [],
                       "cancelled": []}
    html = page.content.decode()
    assert "draft the plan" in html and "↳ Ship checkout" in html and "Not on this board" not in html
    assert f'<a href="/sessions/{session.id}">Claude on checkout</a>' in html
    assert f'data-task-status="{child.id}" data-version="{child.version}"' in html and 'id="new-task"' in html


def test_a_viewer_sees_the_board_without_controls(tenant):
    project = make_project(tenant, "Payments")
    make_task(tenant, project, "a")
    html = signed_in(person("vic", (tenant, Role.VIEWER))).get(f"/projects/{project.id}").content.decode()
    assert "data-task-status" not in html and 'id="new-task"' not in html


def test_a_project_of_another_tenant_or_of_no_one_is_a_404(tenant):
    foreign = make_project(tenant_get_or_create(slug="other"), "Secret")
    client = signed_in(person("olga", (tenant, Role.ADMIN)))
    assert client.get(f"/projects/{foreign.id}").status_code == 404
    assert client.get("/projects/nope").status_code == 404
    assert client.get(f"/sections/board?project={foreign.id}").status_code == 404


def test_the_session_page_shows_its_tasks_and_timeline(tenant):
    project = make_project(tenant, "Payments")
    task = make_task(tenant, project, "Ship checkout")
    session = session_create(tenant=tenant, actor=Actor.system("t"), project=project, task_ids=[task.id],
                             name="Claude on checkout")
    page = signed_in(person("olga", (tenant, Role.VIEWER))).get(f"/sessions/{session.id}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Claude on checkout" in html and f'id="session-task-{task.id}"' in html
    assert signed_in(person("pat", (tenant, Role.VIEWER))).get("/sessions/nope").status_code == 404


def test_the_run_page_shows_the_step_graph_timeline_and_controls(tenant):
    from orchestration.engine.services import run_start, workflow_create
    from tests.support.jobs import celery_eager

    spec = {"steps": [{"id": "build", "action": "noop"}, {"id": "test", "action": "noop", "dependsOn": ["build"]},
                      {"id": "lint", "action": "noop", "dependsOn": ["build"]},
                      {"id": "ship", "action": "noop", "dependsOn": ["test", "lint"]}]}
    workflow_create(tenant=tenant, actor=Actor.system("t"), name="deploy", spec_json=spec)
    with celery_eager(False):  # nothing runs the steps: the page shows them waiting
        run, _ = run_start(tenant=tenant, actor=Actor.system("t"), workflow="deploy")
    client = signed_in(person("olga", (tenant, Role.OPERATOR)))

    page = client.get(f"/runs/{run.id}")

    assert page.status_code == 200
    nodes = {n["id"]: (n["x"], n["y"]) for n in page.context["graph"]["nodes"]}
    assert nodes == {"build": (0, 0), "test": (200, 0), "lint": (200, 60), "ship": (400, 0)}
    assert len(page.context["graph"]["edges"]) == 4
    html = page.content.decode()
    assert f'data-run-cancel="{run.id}"' in html and 'id="step-ship"' in html
    dashboard = client.get("/").content.decode()
    assert f'<a href="/runs/{run.id}">deploy</a>' in dashboard and '<option value="deploy">deploy</option>' in dashboard
    assert signed_in(person("vic", (tenant, Role.VIEWER))).get(f"/runs/{run.id}").content.count(b"data-run-cancel") == 0
    assert client.get("/runs/nope").status_code == 404


def test_a_section_fetch_reads_neither_the_persons_identity_nor_its_tenant_twice(tenant):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(person("olga", (tenant, Role.VIEWER)))
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/sections/loops").status_code == 200
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    assert "tenancy_oidcidentity" not in tables  # only a whole page's header names the person
    assert tables.count('FROM "tenancy_tenant"') == 1
