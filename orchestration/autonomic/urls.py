"""Autonomic loop routes under ``/api/maestro/`` (DESIGN §7.2)."""

from django.urls import path

from orchestration.autonomic import api

urlpatterns = [
    path("autonomic/loops/<str:loop_id>/run", api.LoopRunView.as_view()),
    path("autonomic/loops/<str:loop_id>/decisions", api.LoopDecisionsView.as_view()),
]
