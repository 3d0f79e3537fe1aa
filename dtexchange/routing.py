"""WebSocket routes. Each app that serves a socket adds its patterns here."""

from django.urls import re_path

from notifications.consumers import TradingConsumer

websocket_urlpatterns: list = [
    re_path(r"^ws/trading/?$", TradingConsumer.as_asgi()),
]
