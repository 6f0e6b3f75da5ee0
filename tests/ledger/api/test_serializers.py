"""The batch append's quick check of an entry answers exactly as the serializer: the same
validated entry when it decides, and no decision (the serializer then explains) otherwise."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from ledger.api.serializers import EntryIn, entry_plainly_valid

strings = st.one_of(
    st.sampled_from(["task.create", "", " padded ", "x" * 100, "x" * 101, "x" * 201, "a\x00b", "a\ud800b", "é",
                     "😀", "\t"]),
    st.text(max_size=8),
)
values = st.one_of(strings, st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
json_objects = st.dictionaries(st.text(max_size=4), st.one_of(st.text(max_size=4), st.integers(), st.none(),
                                                             st.floats(allow_nan=False, allow_infinity=False),
                                                             st.sampled_from(["\x00", "\ud800", float("inf"),
                                                                              -float("inf")])), max_size=3)
entries = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.just(str(uuid.UUID(int=7))), st.just("not-a-uuid"), values),
    "actionType": st.one_of(strings, values), "resourceType": st.one_of(strings, values),
    "resourceId": st.one_of(strings, values), "actorId": st.one_of(strings, values),
    "actorType": st.one_of(st.sampled_from(["user", "system", "api", "job", "robot"]), values),
    "payload": st.one_of(json_objects, values), "metadata": st.one_of(json_objects, values),
    "unknown": values,
})


def _serializer(data: Any) -> dict[str, Any] | None:
    try:
        return dict(EntryIn().run_validation(data))
    except ValidationError:
        return None


@settings(max_examples=600, deadline=None)
@given(entries)
def test_the_quick_check_agrees_with_the_serializer(data: dict[str, Any]) -> None:
    quick = entry_plainly_valid(data)
    # when it decides, it is the serializer's answer; an entry the serializer refuses it never passes
    if quick is not None:
        assert quick == _serializer(data)


def test_a_plain_entry_is_decided_by_the_quick_check() -> None:
    # given the entries agents send
    data = {"actionType": "task.create", "resourceType": "task", "resourceId": "task_1", "actorId": "agent-7",
            "actorType": "api", "id": str(uuid.UUID(int=9)), "payload": {"n": 1, "s": "é"}, "metadata": {"k": None}}
    # then the quick check validates them, exactly as the serializer does
    assert entry_plainly_valid(data) == _serializer(data) == {
        "action_type": "task.create", "resource_type": "task", "resource_id": "task_1", "actor_id": "agent-7",
        "actor_type": "api", "id": uuid.UUID(int=9), "payload": {"n": 1, "s": "é"}, "metadata": {"k": None}}
    assert entry_plainly_valid({"actionType": "a", "resourceType": "b"}) == _serializer(
        {"actionType": "a", "resourceType": "b"}) == {"action_type": "a", "resource_type": "b", "resource_id": "",
                                                       "payload": {}, "metadata": {}}


def test_what_the_serializer_refuses_is_left_to_it() -> None:
    for data in ({"actionType": " a", "resourceType": "b"}, {"actionType": "a"}, {"actionType": "a", "resourceType": 1},
                 {"actionType": "a", "resourceType": "b", "payload": {"x": "\x00"}}, ["not", "an", "object"],
                 {"actionType": "a", "resourceType": "b", "metadata": {"x": [1, {"y": -float("inf")}]}},
                 {"actionType": "a", "resourceType": "b", "extra": 1}):
        assert entry_plainly_valid(data) is None
