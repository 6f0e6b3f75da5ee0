import gc
import os
from typing import Any, cast

from django.core.wsgi import get_wsgi_application

from maestro import tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")
# Once per web process (each uvicorn worker process imports this module), and before Django's
# handler loads the middleware, among which the Django instrumentation puts its own. Nothing
# when no OTLP endpoint is configured.
tracing.configure(tracing.WEB)
# Django must be set up before the routing (and with it the models) is imported.
django_wsgi_app = get_wsgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver, re_path  # noqa: E402

from maestro.auth.websocket import authenticate_handshake  # noqa: E402
from maestro.body_limit import BodySizeLimit  # noqa: E402
from maestro.header_limit import HeaderSizeLimit  # noqa: E402
from maestro.wsgi_threads import WSGIThreads  # noqa: E402
from orchestration.work.selectors.projects import project_exists  # noqa: E402
from realtime.consumers import EventStreamConsumer, OldClientsStreamConsumer  # noqa: E402

# The stream is told how to authenticate a handshake and which project subscriptions a tenant
# may make; realtime itself knows nothing of users or projects.
stream = EventStreamConsumer.as_asgi(authenticate=authenticate_handshake, can_subscribe=project_exists)
old_clients_stream = OldClientsStreamConsumer.as_asgi(authenticate=authenticate_handshake,
                                                      can_subscribe=project_exists)
websocket_urlpatterns = [
    re_path(r"^ws/?$", stream),
    re_path(r"^$", old_clients_stream),  # the old system's clients connect at / (DESIGN §5)
]

# Authentication and origin validation happen at the handshake (maestro/auth/websocket.py), per
# credential: the session cookie and the dev loopback identity count only for the page's own
# origin (or CSRF_TRUSTED_ORIGINS), while a token is accepted from any client.
# AllowedHostsOriginValidator would instead refuse the old system's CLI and agents, which
# send no Origin header, whenever ALLOWED_HOSTS is set, and let any page ride the session
# cookie while it is "*". No AuthMiddlewareStack either: it loads the session of every
# connection, token ones included, and wraps every frame sent to save a session the
# stream never changes.
# HTTP: Django's views are synchronous, so each request runs whole in one thread of a pool of
# MAESTRO_WEB_THREADS (middleware, view, queries), one hop from the event loop and one back
# (maestro.wsgi_threads).
# Django's own ASGI handler ran the middleware chain on the loop and every sync view in the one
# thread asgiref keeps for thread-sensitive code: requests of a process took turns on that
# thread, waits on PostgreSQL included (docs/decisions.md; bench/read_api.py measures both).
http_app = WSGIThreads(cast(Any, django_wsgi_app), threads=settings.MAESTRO_WEB_THREADS)


def freeze_what_is_loaded() -> None:
    """At the server's startup: the URLconf and every view imported, then everything the process
    has loaded moved out of the cyclic collector's sight (``gc.freeze``). It lives as long as the
    process, and each full collection walked all of it again: a ledger batch's thousand parsed
    entries set off several, a sixth of the batch's CPU (docs/decisions.md 77)."""
    get_resolver().url_patterns  # noqa: B018 — imported now, not at the first request
    gc.collect()
    gc.freeze()


application = tracing.FlushedAtShutdown(HeaderSizeLimit(ProtocolTypeRouter({
    "http": BodySizeLimit(http_app),
    "websocket": URLRouter(websocket_urlpatterns),
})), on_startup=freeze_what_is_loaded)
