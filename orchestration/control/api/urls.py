"""Control-state routes under ``/api/maestro/`` (DESIGN §4.2)."""

from django.urls import path

from orchestration.control.api import views as c
from orchestration.control.api import views_experiments as e

urlpatterns = [
    path("agents", c.AgentListView.as_view()),
    path("agents/<str:agent_id>", c.AgentDetailView.as_view()),
    path("autonomic/loops", c.LoopListView.as_view()),
    path("autonomic/loops/<str:loop_id>", c.LoopDetailView.as_view()),
    path("autonomic/loops/<str:loop_id>/toggle", c.LoopToggleView.as_view()),
    path("merge-trains", c.MergeTrainView.as_view()),
    path("merge-trains/<str:train_id>", c.MergeTrainDetailView.as_view()),
    path("experiments", e.ExperimentListView.as_view()),
    path("experiments/<str:experiment_id>", e.ExperimentDetailView.as_view()),
    path("experiments/<str:experiment_id>/run", e.ExperimentRunView.as_view()),
    path("experiments/<str:experiment_id>/stop", e.ExperimentStopView.as_view()),
    path("experiments/<str:experiment_id>/assignment", e.ExperimentAssignmentView.as_view()),
    path("experiments/<str:experiment_id>/observations", e.ExperimentObservationsView.as_view()),
    path("experiments/<str:experiment_id>/results", e.ExperimentResultsView.as_view()),
    path("playbooks", e.PlaybookListView.as_view()),
    path("playbooks/<str:playbook_id>", e.PlaybookDetailView.as_view()),
]
