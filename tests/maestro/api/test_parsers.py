"""The JSON request parser: absurdly nested bodies are refused there, before any handler runs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.models import LedgerEntry
from maestro.api.parsers import MAX_BODY_DEPTH, nested_deeper_than
from orchestration.control.models.experiments import Experiment
from tests.support.api import assert_error
from tests.support.writes import Mark

pytestmark = pytest.mark.django_db

# The body: 6 KB, an object nested 1,000 deep.
NESTED_1000 = '{"a":' * 1000 + "1" + "}" * 1000


def _nested(depth: int) -> str:
    """A JSON object ``depth`` levels deep."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


@pytest.mark.parametrize("path", [
    "/api/ledger/entries",
    "/api/ledger/entries/batch",
    "/api/maestro/experiments/exp-001/run",
    "/api/maestro/experiments/exp-001/stop",
    "/api/projects",
])
@pytest.mark.parametrize("body", [NESTED_1000, _nested(100_000), _nested(MAX_BODY_DEPTH + 1)],
                         ids=["1000-deep", "100000-deep", "just-over"])
def test_a_body_nested_too_deeply_is_400_on_every_endpoint_and_writes_nothing(api_client, seeded, path, body):
    # given
    before = Mark(seeded)
    experiments = sorted(Experiment.objects.values_list("slug", "status", "version"))
    entries = LedgerEntry.objects.count()

    # when
    response = api_client.generic("POST", path, body, content_type="application/json")

    # then
    assert_error(response, 400, "VALIDATION_ERROR", "Malformed JSON: nested too deeply")
    assert response.json()["details"] == {"maxDepth": MAX_BODY_DEPTH}
    before.assert_nothing_written()
    assert sorted(Experiment.objects.values_list("slug", "status", "version")) == experiments
    assert LedgerEntry.objects.count() == entries


def test_a_body_at_the_depth_limit_reaches_the_handler(api_client, seeded):
    # given: exactly MAX_BODY_DEPTH levels — the handler's own validation answers it
    body = '{"actionType": "a", "resourceType": "b", "payload": ' + _nested(MAX_BODY_DEPTH - 1) + "}"

    # when
    response = api_client.generic("POST", "/api/ledger/entries", body, content_type="application/json")

    # then: not the parser's refusal, the payload field's own
    assert_error(response, 400, "VALIDATION_ERROR", "payload: Nested deeper than 64 levels.")


def containers_deep(value: Any) -> int:
    """The definition: how many containers deep ``value`` is (a scalar: 0)."""
    if isinstance(value, dict):
        return 1 + max(map(containers_deep, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(containers_deep, value), default=0)
    return 0


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=3),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                                      max_size=4),
                           max_leaves=30)


@settings(max_examples=500, deadline=None)
@given(value=json_values, limit=st.integers(0, 6))
def test_nested_deeper_than_answers_as_the_definition(value, limit):
    assert nested_deeper_than(value, limit) == (containers_deep(value) > limit)
