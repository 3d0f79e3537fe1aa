"""What a WebSocket must pass before the app sees it (``dtexchange.asgi``).

* **Origin.** A browser always sends ``Origin``; from another site's page it
  names that site. Such a socket is refused (cross-site WebSocket hijacking:
  the browser would attach our session cookie). A socket *without* Origin is
  a phone app, a bot or a server: it is accepted, but its cookies are dropped
  before the session middleware, so it can only authenticate with a JWT
  ``authenticate`` message. A socket from our own origin may use the session
  cookie. "Our origin" is a host in ``ALLOWED_HOSTS`` (Channels' own origin
  matching).
* **Connections per client address.** At most ``WS_MAX_CONNECTIONS_PER_IP``
  open sockets per client address (``dtexchange.client_ip``) in this process;
  trusted networks are not capped (a proxy misconfigured with NUM_PROXIES=0
  would otherwise look like one client and lock everyone out).

Refusals are the handshake's 403 (Channels' WebsocketDenier).
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlparse

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings

from dtexchange.client_ip import client_ip_from_scope, is_trusted_network
from notifications.consumers import COOKIE_AUTH_KEY  # may the socket use the cookie?


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    return hosts


def _origin(scope) -> tuple[bool, object]:
    """(whether an Origin header was sent, its parsed value or None)."""
    for name, value in scope.get("headers") or ():
        if name == b"origin":
            try:
                return True, urlparse(value.decode("latin1"))
            except (UnicodeDecodeError, ValueError):
                return True, None
    return False, None


class WebSocketGate:
    def __init__(self, application):
        self.application = application
        self.open_by_ip: Counter[str] = Counter()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.application(scope, receive, send)
        sent, origin = _origin(scope)
        if sent:
            checker = OriginValidator(self.application, _allowed_hosts())
            if origin is None or not checker.valid_origin(origin):
                return await WebsocketDenier()(scope, receive, send)
            scope = {**scope, COOKIE_AUTH_KEY: True}
        else:
            scope = {
                **scope,
                COOKIE_AUTH_KEY: False,
                "headers": [(n, v) for n, v in scope.get("headers") or () if n != b"cookie"],
            }
        ip = client_ip_from_scope(scope)
        capped = not is_trusted_network(ip)
        if capped and self.open_by_ip[ip] >= settings.WS_MAX_CONNECTIONS_PER_IP:
            return await WebsocketDenier()(scope, receive, send)
        if capped:
            self.open_by_ip[ip] += 1
        try:
            return await self.application(scope, receive, send)
        finally:
            if capped:
                self.open_by_ip[ip] -= 1
                if self.open_by_ip[ip] <= 0:
                    del self.open_by_ip[ip]
