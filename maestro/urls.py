from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from maestro.api import openapi  # noqa: F401  (registers the OpenAPI schema extensions)
from maestro.auth import sso
from maestro.ops import metrics, probes
from maestro.write_path.api import AuditLogView
from orchestration.health.admin import with_health
from realtime.api import EventListView

metrics.register()
# The admin is Maestro's: its name, and "View site" opens the operators' dashboard.
admin.site.site_header = "Maestro administration"
admin.site.site_title = "Maestro"
admin.site.index_title = "Configuration"
admin.site.site_url = "/"
# No navigation sidebar: at 1280 px the lists need its width for their columns.
admin.site.enable_nav_sidebar = False
# Its index shows the signed-in person's tenant's health above the model list.
admin.site.index = with_health(admin.site.index)  # type: ignore[method-assign,assignment]

urlpatterns = [
    path("healthz", probes.healthz),
    path("readyz", probes.readyz),
    path("health", probes.legacy_health),
    path("metrics", metrics.export, name="prometheus-django-metrics"),
    # The admin's login and logout, with single sign-on (maestro/auth/sso.py), before its own.
    path("admin/login/", sso.admin_login),
    path("admin/logout/", sso.admin_logout),
    path("sso/login", sso.sso_login, name="sso-login"),
    path("sso/callback", sso.sso_callback, name="sso-callback"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/events", EventListView.as_view()),
    # The old MaestroService, one route list per part (DESIGN §4.2).
    path("api/maestro/", include("orchestration.health.urls")),
    path("api/maestro/", include("orchestration.engine.urls")),
    path("api/maestro/", include("orchestration.control.api.urls")),
    path("api/maestro/", include("orchestration.autonomic.urls")),
    path("api/maestro/audit/log", AuditLogView.as_view()),
    path("api/ledger/", include("ledger.api.urls")),
    # The old Maestro Server: projects, tasks, sessions (DESIGN §4.1).
    path("api/", include("orchestration.work.api.urls")),
    # The operators' pages (DESIGN §7.4).
    path("", include("orchestration.ui.urls")),
]
