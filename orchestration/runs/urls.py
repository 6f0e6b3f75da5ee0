from django.urls import path

from orchestration.runs import api

urlpatterns = [
    path("runs", api.RunListView.as_view()),
    path("runs/<str:run_id>", api.RunDetailView.as_view()),
]
