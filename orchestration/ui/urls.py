from django.urls import path

from orchestration.ui import views

urlpatterns = [
    path("", views.dashboard, name="ui-dashboard"),
    path("login", views.sign_in, name="ui-login"),
    path("logout", views.sign_out, name="ui-logout"),
]
