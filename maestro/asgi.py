import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")
# Django must be set up before the routing (and with it the models) is imported.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from maestro.auth.websocket import authenticate_handshake  # noqa: E402
from maestro.body_limit import BodySizeLimit  # noqa: E402
from maestro.header_limit import HeaderSizeLimit  # noqa: E402
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
application = HeaderSizeLimit(ProtocolTypeRouter({
    "http": BodySizeLimit(django_asgi_app),
    "websocket": URLRouter(websocket_urlpatterns),
}))
