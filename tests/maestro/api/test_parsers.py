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


# ---- orjson where its answer is json's -------------------------------------------------------

def _parsed(body: bytes, parser: Any) -> tuple[str, Any]:
    """What a parser makes of ``body``: ("ok", value) or ("refused", the error's class and text)."""
    import io

    from rest_framework.exceptions import ParseError

    from maestro.core.exceptions import ValidationFailed

    try:
        return "ok", parser.parse(io.BytesIO(body), "application/json", {"encoding": "utf-8"})
    except (ParseError, ValidationFailed) as exc:
        return "refused", (type(exc).__name__, str(exc))


def _same_value(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 and 1.0, or -0.0 and 0.0, differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


def _answers_as_json_does(body: bytes) -> None:
    from rest_framework.parsers import JSONParser as DRFJSONParser

    from maestro.api.parsers import JSONParser

    ours, reference = _parsed(body, JSONParser()), _parsed(body, _DepthChecked(DRFJSONParser()))
    assert ours[0] == reference[0], (body, ours, reference)
    if ours[0] == "ok":
        assert _same_value(ours[1], reference[1]), (body, ours, reference)
    else:
        assert ours == reference


class _DepthChecked:
    """DRF's parser (json.load), with the depth check ours adds."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser

    def parse(self, stream: Any, media_type: str, context: Any) -> Any:
        from maestro.api.parsers import _too_deep

        try:
            data = self.parser.parse(stream, media_type, context)
        except RecursionError:
            raise _too_deep() from None
        if nested_deeper_than(data, MAX_BODY_DEPTH):
            raise _too_deep()
        return data


any_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(value=any_json, ascii_only=st.booleans())
def test_a_body_parses_to_exactly_what_json_makes_of_it(value, ascii_only):
    import json

    _answers_as_json_does(json.dumps(value, ensure_ascii=ascii_only).encode("utf-8"))


@pytest.mark.parametrize("body", [
    b"123456789012345678901234567890", b"-9223372036854775809", b"18446744073709551615", b'{"n": 1e400}',
    b"NaN", b"[Infinity]", b"-Infinity", b'{"a": "\\ud800"}', b'{"\\udfff": 1}', b'"\\ud83d\\ude00"',
    b"\xef\xbb\xbf{}", b'"\xff"', b'{"a": "\xed\xa0\x80"}', b'"a\x01b"', b"[1,]", b'{"a":1,"a":2}', b"{} {}",
    b"", b" ", b"-0", b"-0.0", b"1E5", b"-1e-400", b'"\\u0000"', b'{"id": "1234567890123456789012"}',
    b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808", b"18446744073709551616",
    b"[1e19]", b'{"a": -9.3e18}', b"9.2e18", b"[1, [2, [-18446744073709551617]]]", b'{"n": 12345678901234567890.5}',
    NESTED_1000.encode(), _nested(MAX_BODY_DEPTH).encode(), _nested(MAX_BODY_DEPTH + 1).encode(),
    _nested(2000).encode(),
])
def test_edge_bodies_are_answered_as_json_answers_them(body):
    _answers_as_json_does(body)
