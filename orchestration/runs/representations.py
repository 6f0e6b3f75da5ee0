"""The API shape of a run: the old ``runs`` table's snake_case row (DESIGN §3)."""

from __future__ import annotations

from typing import Any

from maestro.core.wire import to_iso
from orchestration.runs.models import Run


def run_repr(run: Run) -> dict[str, Any]:
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
