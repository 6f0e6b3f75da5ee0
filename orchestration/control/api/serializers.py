"""Input validation for ``/api/maestro/``: strict types (a string where a number belongs is a
400, never coerced) and unknown fields refused, so a typo cannot silently do nothing."""

from __future__ import annotations

import math
from typing import Any

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from maestro.api.fields import (
    JSONObjectField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
    StringListField,
)
from maestro.api.serializers import StrictSerializer, VersionMixin
from orchestration.control.models.agents import AgentProfile
from orchestration.control.models.base import SLUG_RE
from orchestration.control.models.experiments import Experiment
from orchestration.control.models.loops import AutonomicLoop
from orchestration.control.schemas import as_openapi


def slug_field(**kwargs: Any) -> StrictCharField:
    """A control-state id (``cost-optimization``): at most 100 characters."""
    return StrictCharField(max_length=100, allow_blank=False, **kwargs)
SLUG_ID = RegexValidator(SLUG_RE, "id must be 1-100 letters, digits, '.', '_' or '-'")


class StrictNumberField(serializers.FloatField):
    """A JSON number (int or float, finite); not a string, not a boolean."""

    default_error_messages = {"invalid": "A number is required."}

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, (int, float)) or not math.isfinite(data):
            self.fail("invalid")
        return super().to_internal_value(data)


VARIANT_ID = {"type": "string", "pattern": SLUG_RE, "maxLength": 100}
VARIANTS_SCHEMA = {"oneOf": [
    {"type": "array", "minItems": 2, "maxItems": 20, "uniqueItems": True, "items": VARIANT_ID,
     "description": "variant ids, sharing the traffic equally"},
    {"type": "array", "minItems": 2, "maxItems": 20, "description": "variants with their traffic weights, "
     "which sum to 100 (every variant has one, or none has); the ids are unique",
     "items": {"type": "object", "additionalProperties": False, "required": ["id"], "properties": {
         "id": VARIANT_ID, "trafficWeight": {"type": "integer", "minimum": 0, "maximum": 100},
         "configOverrides": {"type": "object", "additionalProperties": {}}}}},
]}


@extend_schema_field(VARIANTS_SCHEMA)
class VariantsField(serializers.JSONField):
    """Checked by the service (orchestration.control.services.experiments.normalize_variants)."""


@extend_schema_field(as_openapi("experiment_stop_conditions"))
class StopConditionsField(serializers.JSONField):
    """Checked by the service against schemas/experiment_stop_conditions.json."""


@extend_schema_field({"anyOf": [as_openapi(f"loop_config_{t}") for t in AutonomicLoop.Type.values],
                      "description": "checked against the schema of the loop's type"})
class LoopConfigField(JSONObjectField):
    """Checked by the service against the schema of the loop's type (schemas/loop_config_*.json)."""


class LoopToggleIn(StrictSerializer, VersionMixin):
    ignored = ("id",)
    status = StrictChoiceField(choices=AutonomicLoop.Status.choices,
                               error_messages={"required": "status is required",
                                               "invalid_choice": "status must be active or paused, not {input!r}"})


class LoopUpdateIn(StrictSerializer, VersionMixin):
    ignored = ("id", "lastDecision", "lastRun")
    undocumented, change_required = ("id",), True  # PATCH: ControlView.patch_input
    name = StrictCharField(max_length=200, allow_blank=False, required=False)
    type = StrictChoiceField(choices=AutonomicLoop.Type.choices, required=False)
    status = StrictChoiceField(choices=AutonomicLoop.Status.choices, required=False)
    config = LoopConfigField(required=False)


class AgentUpdateIn(StrictSerializer, VersionMixin):
    # ``metrics`` are counted from the agent's runs: an old client echoing them back is accepted,
    # and what it sent is not kept.
    ignored = ("id", "metrics")
    undocumented, change_required = ("id",), True  # PATCH: ControlView.patch_input
    name = StrictCharField(max_length=200, allow_blank=False, required=False)
    role = StrictCharField(max_length=200, allow_blank=True, required=False)
    model = StrictCharField(max_length=200, allow_blank=True, required=False)
    status = StrictChoiceField(choices=AgentProfile.Status.choices, required=False)
    routingWeight = StrictIntegerField(required=False, min_value=0, max_value=100, source="routing_weight")


class ExperimentCreateIn(StrictSerializer):
    id = slug_field(required=False, validators=[SLUG_ID])
    name = StrictCharField(max_length=200, allow_blank=False, trim_whitespace=True,
                           error_messages={"required": "name is required", "blank": "name is required"})
    hypothesis = StrictCharField(max_length=10_000, allow_blank=True, required=False, default="")
    status = StrictChoiceField(choices=[(Experiment.Status.DRAFT, "draft"), (Experiment.Status.RUNNING, "running")],
                               required=False, default=Experiment.Status.DRAFT)
    # Checked by the service (ids or objects; integer weights summing to 100).
    variants = VariantsField(error_messages={"required": "variants is required"})
    metrics = JSONObjectField(required=False, default=dict)
    stopConditions = StopConditionsField(required=False, default=list,  # type: ignore[arg-type]  # stubs: Mapping
                                         source="stop_conditions")


class ExperimentUpdateIn(StrictSerializer, VersionMixin):
    ignored = ("id", "status", "startDate", "endDate", "variantDetails")
    undocumented, change_required = ("id",), True  # PATCH: ControlView.patch_input
    name = StrictCharField(max_length=200, allow_blank=False, required=False)
    hypothesis = StrictCharField(max_length=10_000, allow_blank=True, required=False)
    variants = VariantsField(required=False)
    metrics = JSONObjectField(required=False)
    stopConditions = StopConditionsField(required=False, source="stop_conditions")


class ExperimentActionIn(StrictSerializer, VersionMixin):
    pass


class ObservationIn(StrictSerializer):
    require_any = ("variant", "entityId")  # the service places an observation by one of them
    variant = slug_field(required=False)
    entityId = StrictCharField(required=False, max_length=200, allow_blank=False, source="entity_id")
    metrics = serializers.DictField(child=StrictNumberField(), allow_empty=False,
                                    error_messages={"required": "metrics is required"})

    def validate_metrics(self, value: dict[str, float]) -> dict[str, float]:
        if len(value) > 100 or any(not k or len(k) > 100 for k in value):
            raise serializers.ValidationError("at most 100 metrics, names of 1-100 characters")
        return value


class PlaybookCreateIn(StrictSerializer):
    id = slug_field(required=False, validators=[SLUG_ID])
    name = StrictCharField(max_length=200, allow_blank=False, trim_whitespace=True,
                           error_messages={"required": "name is required", "blank": "name is required"})
    description = StrictCharField(max_length=10_000, allow_blank=True, required=False, default="")
    triggers = StringListField(required=False, default=list, max_length=100)
    actions = StringListField(required=False, default=list, max_length=100)
    isEnabled = StrictBooleanField(required=False, default=False, source="is_enabled")


class PlaybookUpdateIn(StrictSerializer, VersionMixin):
    ignored = ("id",)
    undocumented, change_required = ("id",), True  # PATCH: ControlView.patch_input
    name = StrictCharField(max_length=200, allow_blank=False, trim_whitespace=True, required=False,
                           error_messages={"blank": "name is required"})
    description = StrictCharField(max_length=10_000, allow_blank=True, required=False)
    triggers = StringListField(required=False, max_length=100)
    actions = StringListField(required=False, max_length=100)
    isEnabled = StrictBooleanField(required=False, source="is_enabled")
