"""The one rule for a request's id: the proxy's ``X-Request-ID`` when it is
sane (a short token, safe in logs and headers), else a new random one. HTTP
requests (dtexchange.middleware) and WebSocket handshakes
(notifications.consumers) both take theirs here."""

import re
import uuid

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_from(incoming: str | None) -> str:
    """``incoming`` (the header's value) if sane, else a new id."""
    if incoming and _SAFE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def request_id_from_scope(scope) -> str:
    """The same for an ASGI scope (a WebSocket handshake's headers)."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"x-request-id":
            return request_id_from(value.decode("latin-1"))
    return request_id_from(None)
