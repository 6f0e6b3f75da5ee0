"""Keyset paging of list endpoints (DESIGN §4): ?limit= (default 500, max 5000), ?cursor=,
``Link: <…>; rel="next"`` on truncated lists; lists stay plain JSON arrays."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from orchestration.work.models import Project, Session, Task
from tests.factories import make_project
from tests.support.api import assert_error

LINK = re.compile(r'^<http://testserver(?P<path>/api/[^>]+)>; rel="next"$')
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def walk(client, url):
    """Follows rel=next links; returns the pages (lists of ids)."""
    pages = []
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.content
        assert isinstance(r.json(), list)
        pages.append([row["id"] for row in r.json()])
        link = r.get("Link")
        url = LINK.match(link).group("path") if link else None
        assert len(pages) < 100
    return pages


def bulk_projects(tenant, count, *, at=None, step=timedelta(0)):
    at = at or T0
    Project.objects.bulk_create([
        Project(id=f"proj_{i:013d}_{i:09d}", tenant=tenant, name=f"p{i}", created_at=at + step * (i // 3),
                updated_at=at) for i in range(count)
    ])
    return list(Project.objects.filter(tenant=tenant).order_by("created_at", "id").values_list("id", flat=True))


def test_walking_pages_yields_every_row_once_in_order_even_with_shared_timestamps(api_client, tenant):
    # given: 11 projects, three at a time sharing a createdAt, ids not in time order
    Project.objects.bulk_create([
        Project(id=f"proj_{(17 * i) % 11:013d}_aaaaaaaaa", tenant=tenant, name=f"p{i}",
                created_at=T0 + timedelta(seconds=i // 3), updated_at=T0) for i in range(11)
    ])
    expected = list(Project.objects.order_by("created_at", "id").values_list("id", flat=True))
    # when
    pages = walk(api_client, "/api/projects?limit=4")
    # then
    assert [len(p) for p in pages] == [4, 4, 3]
    assert [i for page in pages for i in page] == expected
    assert len(set(expected)) == 11


def test_all_rows_with_one_timestamp_page_by_id(api_client, tenant):
    # given
    expected = bulk_projects(tenant, 7)
    # when
    pages = walk(api_client, "/api/projects?limit=2")
    # then
    assert [i for page in pages for i in page] == expected
    assert [len(p) for p in pages] == [2, 2, 2, 1]


def test_exact_multiple_of_the_limit_ends_without_an_empty_page(api_client, tenant):
    # given
    expected = bulk_projects(tenant, 6, step=timedelta(seconds=1))
    # when
    pages = walk(api_client, "/api/projects?limit=3")
    # then
    assert pages == [expected[:3], expected[3:]]


def test_link_keeps_the_filters(api_client, tenant):
    # given
    project = make_project(tenant)
    other = make_project(tenant, "other")
    now = timezone.now()
    Task.objects.bulk_create([
        Task(id=f"task_{i:013d}_aaaaaaaaa", tenant=tenant, project=project if i % 2 else other, title=f"t{i}",
             created_at=now, updated_at=now) for i in range(10)
    ])
    # when
    first = api_client.get(f"/api/tasks?projectId={project.id}&limit=2")
    pages = walk(api_client, f"/api/tasks?projectId={project.id}&limit=2")
    # then
    assert f"projectId={project.id}" in first["Link"] and "limit=2" in first["Link"]
    assert [i for page in pages for i in page] == [f"task_{i:013d}_aaaaaaaaa" for i in (1, 3, 5, 7, 9)]


def test_sessions_page_by_started_at(api_client, tenant):
    # given
    project = make_project(tenant)
    Session.objects.bulk_create([
        Session(id=f"sess_{i:013d}_aaaaaaaaa", tenant=tenant, project=project, name=f"s{i}",
                started_at=T0 + timedelta(seconds=i % 2), last_activity=T0) for i in range(5)
    ])
    expected = list(Session.objects.order_by("started_at", "id").values_list("id", flat=True))
    # when
    pages = walk(api_client, "/api/sessions?limit=2")
    # then
    assert [i for page in pages for i in page] == expected


def test_default_limit_is_500(api_client, tenant):
    # given
    expected = bulk_projects(tenant, 501, step=timedelta(milliseconds=1))
    # when
    r = api_client.get("/api/projects")
    # then
    assert len(r.json()) == 500
    assert [p["id"] for p in r.json()] == expected[:500]
    rest = walk(api_client, LINK.match(r["Link"]).group("path"))
    assert rest == [expected[500:]]


def test_limit_bounds(api_client, tenant):
    # given
    bulk_projects(tenant, 3)
    # when / then
    assert len(api_client.get("/api/projects?limit=5000").json()) == 3
    assert len(api_client.get("/api/projects?limit=1").json()) == 1
    for bad in ("5001", "0", "-1", "abc", "1.5", "1e3"):
        body = assert_error(api_client.get(f"/api/projects?limit={bad}"), 400, "VALIDATION_ERROR")
        assert "limit" in body["message"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "!!!", "abc", _b64(b"not json"), _b64(b"[1, 2]"), _b64(b'{"a": 1, "b": 2}'), _b64(b'"x"'),
    _b64(json.dumps(["2024-01-01T00:00:00", "proj_x"]).encode()),  # naive: no timezone
    _b64(json.dumps(["yesterday", "proj_x"]).encode()), _b64(b"\xff\xfe"), _b64(b"[]"),
])
def test_invalid_cursor_is_400(api_client, tenant, cursor):
    # when
    r = api_client.get(f"/api/projects?cursor={cursor}")
    # then
    body = assert_error(r, 400, "VALIDATION_ERROR", "cursor is invalid")
    assert body["details"] == {"cursor": cursor}


def test_cursor_and_limit_apply_to_every_list(api_client, tenant):
    # given
    project = make_project(tenant)
    # when / then
    for path in ("/api/projects", "/api/tasks", "/api/sessions", f"/api/tasks/{_task(tenant, project)}/children"):
        assert_error(api_client.get(f"{path}?limit=5001"), 400, "VALIDATION_ERROR")
        assert_error(api_client.get(f"{path}?cursor=%21"), 400, "VALIDATION_ERROR")


def _task(tenant, project):
    from tests.factories import make_task

    return make_task(tenant, project).id
