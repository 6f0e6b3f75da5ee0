from django.urls import path

from realtime.consumers import EventStreamConsumer

websocket_urlpatterns = [
    path("ws", EventStreamConsumer.as_asgi()),
    path("", EventStreamConsumer.as_asgi()),  # the old system's clients connect at /
]
