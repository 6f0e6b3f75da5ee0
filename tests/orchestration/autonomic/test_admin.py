"""The loops' admin: "Run now" ticks the selected loops as the signed-in user; the loop page
shows the decision history with each decision's action."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from orchestration.control.models.loops import AutonomicLoop, LoopDecision
from tests.orchestration.autonomic.conftest import agents, runs
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db
ADMIN = "/admin/orchestration/autonomicloop"


def test_run_now_ticks_the_selected_loops(staff, seeded):
    # given
    runs(seeded, "coder", failed=5)
    pks = list(AutonomicLoop.objects.filter(slug__in=["reliability-guardian", "cost-optimization"])
               .values_list("pk", flat=True))
    mark = Mark(seeded)

    # when
    r = staff.post(f"{ADMIN}/", {"action": "run_now", "_selected_action": pks}, follow=True)

    # then
    assert [str(m) for m in get_messages(r.wsgi_request)] == ["Ran 2: cost-optimization, reliability-guardian."]
    assert sorted(LoopDecision.objects.values_list("loop__slug", "action")) == [
        ("cost-optimization", "none"), ("reliability-guardian", "quarantine")]
    assert agents(seeded)["coder"] == ("degraded", 0)
    assert {(a.action, a.actor, a.actor_type) for a in mark.audits()} == {
        ("loop.decision", "root", "user"), ("agent.update", "root", "user")}
    assert {d.details["trigger"] for d in LoopDecision.objects.all()} == {"manual"}


def test_the_loop_page_shows_the_decision_history(staff, seeded):
    # given
    runs(seeded, "coder", failed=5)
    loop = AutonomicLoop.objects.get(slug="reliability-guardian")
    staff.post(f"{ADMIN}/", {"action": "run_now", "_selected_action": [loop.pk]})

    # when
    page = staff.get(f"{ADMIN}/{loop.pk}/change/").content.decode()

    # then
    assert "<b>quarantine</b> Quarantined coder (100% of 5 runs failed)" in page
