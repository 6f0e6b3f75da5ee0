from django.urls import path

from orchestration.ui import views

urlpatterns = [
    path("", views.dashboard, name="ui-dashboard"),
    path("sections/<str:name>", views.section, name="ui-section"),
    path("projects/<str:project_id>", views.project_board, name="ui-board"),
    path("sessions/<str:session_id>", views.session_view, name="ui-session"),
    path("runs/<str:run_id>", views.run_view, name="ui-run"),
    path("login", views.sign_in, name="ui-login"),
    path("logout", views.sign_out, name="ui-logout"),
]
