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
