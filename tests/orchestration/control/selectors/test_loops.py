from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_recent_decisions_prefers_the_newest_history(seeded):
    from orchestration.control.selectors.loops import loop_recent_decisions
    from orchestration.control.services.loops import loop_record_decision
    from tests.factories import SYSTEM

    # given
    for n in range(6):
        loop_record_decision(tenant=seeded, actor=SYSTEM, loop_id="reliability-guardian", decision=f"d{n}")

    # then
    assert loop_recent_decisions(tenant=seeded, limit=5) == ["d5", "d4", "d3", "d2", "d1"]


def test_recent_decisions_merge_imported_last_decisions_of_loops_without_history_in_two_bounded_reads(
        seeded, django_assert_num_queries):
    from datetime import timedelta

    from django.utils import timezone

    from orchestration.control.models.loops import AutonomicLoop
    from orchestration.control.selectors.loops import loop_recent_decisions
    from orchestration.control.services.loops import loop_record_decision
    from tests.factories import SYSTEM

    # given: every loop carries an imported last decision (no history) from an hour ago or more
    loops = list(AutonomicLoop.objects.filter(tenant=seeded).order_by("slug"))
    for n, loop in enumerate(loops):
        AutonomicLoop.objects.filter(pk=loop.pk).update(
            last_decision=f"imported {loop.slug}", last_run=timezone.now() - timedelta(hours=1 + n))
    # and the first loop has a history of its own, longer than the limit
    for n in range(7):
        loop_record_decision(tenant=seeded, actor=SYSTEM, loop_id=loops[0].slug, decision=f"h{n}")

    # when
    with django_assert_num_queries(2):
        recent = loop_recent_decisions(tenant=seeded, limit=9)

    # then: the history, newest first, then the other loops' imported decisions (never the first's)
    assert recent == [f"h{n}" for n in range(6, -1, -1)] + [f"imported {loop.slug}" for loop in loops[1:3]]
