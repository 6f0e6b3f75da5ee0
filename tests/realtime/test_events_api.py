"""``GET /api/events?afterSeq=N&limit=`` — the REST twin of the WebSocket resume."""

from __future__ import annotations

from typing import Any

import pytest

from realtime.models import Event
from realtime.selectors import event_stream_head_of
from tests.factories import SYSTEM, make_project

pytestmark = pytest.mark.django_db


def _envelopes(tenant: Any, after: int) -> list[dict[str, Any]]:
    return [e.envelope() for e in Event.objects.filter(tenant=tenant, seq__gt=after).order_by("seq")]


def test_lists_the_envelopes_after_a_seq_in_order(api_client, tenant):
    # given
    before = event_stream_head_of(tenant.pk)
    make_project(tenant, "One")
    make_project(tenant, "Two")

    # when
    r = api_client.get(f"/api/events?afterSeq={before}")

    # then
    assert r.status_code == 200
    body = r.json()
    assert body == _envelopes(tenant, before)
    assert [(m["type"], m["seq"]) for m in body] == [("audit:created", before + 1), ("project:created", before + 2),
                                                     ("audit:created", before + 3), ("project:created", before + 4)]
    assert all(set(m) == {"type", "event", "data", "timestamp", "seq"} for m in body)
    assert r["X-Maestro-Event-Head"] == str(before + 4)
    assert "Link" not in r


def test_without_afterseq_lists_from_the_start(api_client, tenant):
    make_project(tenant)
    r = api_client.get("/api/events")
    assert r.status_code == 200
    assert [m["seq"] for m in r.json()] == list(range(1, event_stream_head_of(tenant.pk) + 1))


def test_at_the_head_the_list_is_empty(api_client, tenant):
    make_project(tenant)
    head = event_stream_head_of(tenant.pk)
    r = api_client.get(f"/api/events?afterSeq={head}")
    assert (r.status_code, r.json(), r["X-Maestro-Event-Head"]) == (200, [], str(head))


def test_limit_pages_with_a_next_link(api_client, tenant):
    # given
    before = event_stream_head_of(tenant.pk)
    for name in ("A", "B", "C"):
        make_project(tenant, name)

    # when: pages of four, following the links
    seen, url, pages = [], f"/api/events?afterSeq={before}&limit=4", 0
    while url:
        r = api_client.get(url)
        assert r.status_code == 200
        seen.extend(m["seq"] for m in r.json())
        pages += 1
        link = r.get("Link")
        url = link[link.index("/api/"):link.index(">")] if link else None

    # then
    assert seen == list(range(before + 1, before + 7))
    assert pages == 2


def test_a_full_last_page_has_no_next_link(api_client, tenant):
    before = event_stream_head_of(tenant.pk)
    make_project(tenant)
    r = api_client.get(f"/api/events?afterSeq={before}&limit=2")
    assert [m["seq"] for m in r.json()] == [before + 1, before + 2]
    assert "Link" not in r


@pytest.mark.parametrize("query", ["afterSeq=x", "afterSeq=-1", "afterSeq=1.5", "afterSeq=", "afterSeq=%E2%91%A0",
                                   "limit=0", "limit=5001", "limit=ten"])
def test_bad_parameters_are_400(api_client, tenant, query):
    make_project(tenant)
    r = api_client.get(f"/api/events?{query}")
    assert r.status_code == 400
    body = r.json()
    assert (body["error"], body["code"]) == (True, "VALIDATION_ERROR")


def test_pruned_events_answer_resync(api_client, tenant):
    # given: the oldest events are gone
    before = event_stream_head_of(tenant.pk)
    make_project(tenant, "Old")
    make_project(tenant, "New")
    Event.objects.filter(tenant=tenant, seq__lte=before + 2).delete()

    # when
    r = api_client.get(f"/api/events?afterSeq={before}")

    # then
    assert r.status_code == 410
    assert r.json() == {"error": True, "code": "RESYNC_REQUIRED",
                        "message": "Events after this seq are no longer kept; reload state and resume from head",
                        "details": {"afterSeq": before, "head": before + 4, "oldestSeq": before + 3}}
    # and from the oldest kept one on it works
    assert [m["seq"] for m in api_client.get(f"/api/events?afterSeq={before + 2}").json()] == [before + 3, before + 4]


def test_a_seq_beyond_the_head_answers_resync(api_client, tenant):
    head = event_stream_head_of(tenant.pk)
    r = api_client.get(f"/api/events?afterSeq={head + 5}")
    assert r.status_code == 410
    assert r.json()["details"]["head"] == head
    # the client is ahead of this stream (another database, a restore): nothing was pruned
    assert r.json()["message"] == "afterSeq is beyond this stream's head; reload state and resume from head"


def test_only_the_callers_tenant(api_client, other_client, tenant, other_tenant):
    # given: activity in both tenants
    make_project(tenant, "Ours")
    make_project(other_tenant, "Theirs")

    # when
    r = other_client.get("/api/events")

    # then
    names = [m["data"]["name"] for m in r.json() if m["type"] == "project:created"]
    assert names == ["Theirs"]
    assert r.json() == _envelopes(other_tenant, 0)


def test_viewers_may_read_and_anonymous_may_not(viewer_client, anon_client, tenant):
    make_project(tenant)
    assert viewer_client.get("/api/events").status_code == 200
    r = anon_client.get("/api/events")
    assert r.status_code == 401
    assert r.json()["code"] == "UNAUTHORIZED"


def test_writes_are_not_allowed(api_client):
    r = api_client.post("/api/events", {}, format="json")
    assert r.status_code == 405


def test_the_actor_of_system_changes_is_visible(api_client, tenant):
    before = event_stream_head_of(tenant.pk)
    make_project(tenant)
    audit = api_client.get(f"/api/events?afterSeq={before}").json()[0]
    assert (audit["type"], audit["data"]["actor"]) == ("audit:created", SYSTEM.name)


def test_a_page_of_events_is_a_fixed_number_of_queries(api_client, tenant, django_assert_num_queries):
    # given 30 events, and a first request (the token's once-a-minute "last used" write out of the way)
    for i in range(30):
        make_project(tenant, f"p{i}")
    assert api_client.get("/api/events?afterSeq=0&limit=5").status_code == 200
    # then: the token with its membership, the stream's head, the page — for 5 events as for 25
    with django_assert_num_queries(3):
        assert len(api_client.get("/api/events?afterSeq=0&limit=5").json()) == 5
    with django_assert_num_queries(3):
        assert len(api_client.get("/api/events?afterSeq=0&limit=25").json()) == 25
