import re
import uuid

import structlog

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Binds a request id (the proxy's X-Request-ID if sane, else a new one) to
    every log line of the request, and echoes it back in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Cleared and bound at the start of each request, and deliberately not
        # cleared at the end: Django logs 4xx/5xx responses ("Unauthorized:
        # /api/...") after the middleware chain has returned, and those lines
        # need the id too. Under ASGI each request has its own context; a
        # WSGI thread's next request starts by clearing it.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
