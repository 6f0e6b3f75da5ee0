from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from maestro.api import openapi  # noqa: F401  (registers the OpenAPI schema extensions)
from maestro.ops import metrics, probes
from realtime.api import EventListView

metrics.register()

urlpatterns = [
    path("healthz", probes.healthz),
    path("readyz", probes.readyz),
    path("health", probes.legacy_health),
    path("", include("django_prometheus.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/events", EventListView.as_view()),
    path("api/maestro/", include("orchestration.api.maestro.urls")),
    path("api/ledger/", include("ledger.api.urls")),
    path("api/", include("orchestration.api.urls")),
]
