"""Workflow, run and dead-letter routes under ``/api/maestro/`` (DESIGN §7.1); the runs list is
the runs part's own view."""

from django.urls import path

from orchestration.engine import api
from orchestration.runs import api as runs_api


class _RunsView(runs_api.RunListView, api.RunStartView):
    """GET the runs (newest first), POST a new run of a workflow."""


urlpatterns = [
    path("workflows", api.WorkflowListView.as_view()),
    path("workflows/schema", api.WorkflowSchemaView.as_view()),
    path("workflows/<str:name>", api.WorkflowDetailView.as_view()),
    path("runs", _RunsView.as_view()),
    path("runs/<str:run_id>", api.RunView.as_view()),
    path("runs/<str:run_id>/graph", api.RunGraphView.as_view()),
    path("runs/<str:run_id>/timeline", api.RunTimelineView.as_view()),
    path("runs/<str:run_id>/cancel", api.RunCancelView.as_view()),
    path("dlq", api.DeadLetterListView.as_view()),
    path("dlq/<str:dead_letter_id>/replay", api.DeadLetterReplayView.as_view()),
    path("playbooks/<str:playbook_id>/run", api.PlaybookRunView.as_view()),
]
