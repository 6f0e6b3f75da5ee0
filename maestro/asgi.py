import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maestro.settings")
# Django must be set up before the routing (and with it the models) is imported.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from maestro.body_limit import BodySizeLimit  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

# Authentication and origin validation happen in the consumer (realtime/auth.py), per
# credential: the session cookie and the dev loopback identity count only for the page's own
# origin (or CSRF_TRUSTED_ORIGINS), while a token is accepted from any client.
# AllowedHostsOriginValidator would instead refuse the old system's CLI and agents, which
# send no Origin header, whenever ALLOWED_HOSTS is set, and let any page ride the session
# cookie while it is "*". No AuthMiddlewareStack either: it loads the session of every
# connection, token ones included, and wraps every frame sent to save a session the
# stream never changes.
application = ProtocolTypeRouter({
    "http": BodySizeLimit(django_asgi_app),
    "websocket": URLRouter(websocket_urlpatterns),
})
