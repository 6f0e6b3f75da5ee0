"""How a representation's TypedDict becomes its published JSON schema (maestro.api.openapi)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NotRequired, TypedDict

import pytest
from django.db import models

from maestro.api.openapi import _SHAPES, json_schema
from maestro.core.wire import EpochMs


class Colour(models.TextChoices):
    RED = "red"
    BLUE = "blue"


class Inner(TypedDict):
    n: int


def test_scalars_lists_and_objects():
    assert json_schema(str) == {"type": "string"}
    assert json_schema(list[int]) == {"type": "array", "items": {"type": "integer"}}
    assert json_schema(dict[str, float]) == {"type": "object", "additionalProperties": {"type": "number"}}
    assert json_schema(Any) == {"nullable": True}


def test_annotated_strings_describe_and_choices_enumerate():
    assert json_schema(EpochMs) == {"type": "integer", "description": "epoch milliseconds"}
    assert json_schema(Annotated[str, Colour]) == {"type": "string", "enum": ["red", "blue"]}
    assert json_schema(EpochMs | None) == {"type": "integer", "description": "epoch milliseconds", "nullable": True}


def test_a_nested_typeddict_is_a_reference_to_its_own_component():
    assert json_schema(list[Inner]) == {"type": "array", "items": {"$ref": "#/components/schemas/Inner"}}
    assert json_schema(Inner | None) == {"allOf": [{"$ref": "#/components/schemas/Inner"}], "nullable": True}
    assert _SHAPES["Inner"] is Inner
    _SHAPES.pop("Inner")


def test_not_required_keys_are_optional_properties():
    assert json_schema(NotRequired[int]) == {"type": "integer"}


def test_a_type_without_a_schema_fails_loudly():
    with pytest.raises(TypeError, match="no JSON schema for"):
        json_schema(datetime)
