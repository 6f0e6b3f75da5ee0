"""The API shape of a run: the old ``runs`` table's snake_case row (DESIGN §3), declared as the
TypedDict its function returns (the OpenAPI document is derived from it)."""

from typing import Annotated, Any, TypedDict

from maestro.core.wire import IsoTime, to_iso
from orchestration.runs.models import Run


class RunOut(TypedDict):
    id: str
    pipeline_id: str
    pipeline: str
    status: Annotated[str, Run.Status]
    started_at: IsoTime | None
    completed_at: IsoTime | None
    duration_ms: int | None
    cost: float
    input_params: dict[str, Any]
    output_data: Any
    error_message: str | None
    failure_details: Any
    executor_id: str | None
    created_at: IsoTime
    updated_at: IsoTime
    tenant_id: str


def run_repr(run: Run) -> RunOut:
    return {
        "id": run.id,
        "pipeline_id": run.pipeline_id,
        "pipeline": run.pipeline,
        "status": run.status,
        "started_at": to_iso(run.started_at),
        "completed_at": to_iso(run.completed_at),
        "duration_ms": run.duration_ms,
        "cost": run.cost,
        "input_params": run.input_params,
        "output_data": run.output_data,
        "error_message": run.error_message or None,
        "failure_details": run.failure_details,
        "executor_id": run.executor_id or None,
        "created_at": to_iso(run.created_at),
        "updated_at": to_iso(run.updated_at),
        "tenant_id": run.tenant.slug,
    }
