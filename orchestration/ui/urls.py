from django.urls import path

from orchestration.ui import views

urlpatterns = [
    path("", views.dashboard, name="ui-dashboard"),
    path("sections/<str:name>", views.dashboard_section, name="ui-section"),
    path("login", views.sign_in, name="ui-login"),
    path("logout", views.sign_out, name="ui-logout"),
]
