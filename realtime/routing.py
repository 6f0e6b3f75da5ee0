from django.urls import re_path

from realtime.consumers import EventStreamConsumer

websocket_urlpatterns = [
    re_path(r"^ws/?$", EventStreamConsumer.as_asgi()),
    re_path(r"^$", EventStreamConsumer.as_asgi()),  # the old system's clients connect at /
]
