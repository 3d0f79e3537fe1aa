"""ASGI entry point: HTTP and WebSocket (Daphne). In production Daphne serves
only the WebSockets; gunicorn serves HTTP."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtexchange.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dtexchange.routing import websocket_urlpatterns  # noqa: E402
from dtexchange.websocket_gate import WebSocketGate  # noqa: E402
from notifications.fanout import ServerSendMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # ServerSendMiddleware first: the public fan-out needs the server's own
        # send callable (notifications/fanout.py). The gate (origin, cookies,
        # per-IP cap) before the session is read.
        "websocket": ServerSendMiddleware(
            WebSocketGate(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
