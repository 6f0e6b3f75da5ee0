from django.urls import path

from orchestration.health import api

urlpatterns = [
    path("dashboard", api.DashboardView.as_view()),
    path("health", api.HealthView.as_view()),
    path("slo", api.SLOView.as_view()),
]
