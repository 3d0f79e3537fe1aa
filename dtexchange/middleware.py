import structlog

from dtexchange.request_id import request_id_from


class RequestIdMiddleware:
    """Binds a request id (the proxy's X-Request-ID if sane, else a new one) to
    every log line of the request, and echoes it back in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get("X-Request-ID"))
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


class ApiErrorMiddleware:
    """An exception escaping any view under /api/ (DRF's own views already
    answer through dtexchange.errors.api_exception_handler) becomes the error
    envelope: 503 ``service_unavailable`` with Retry-After when the database
    or Redis cannot be reached, else 500 ``internal_error`` with the request
    id. Also with DEBUG on: an API client never gets an HTML page. The
    request is watched for committed writes, so the answer says "nothing was
    charged" only when that is so (dtexchange.commit_watch)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        from dtexchange.commit_watch import commit_watch

        with commit_watch():
            return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith("/api/"):
            return None
        from django.http import JsonResponse

        from dtexchange.errors import log, retry_after_seconds, unexpected_error_body

        body, status = unexpected_error_body(exception, getattr(request, "request_id", ""))
        response = JsonResponse(body, status=status)
        if status == 503:
            log.warning("api.service_unavailable", error=f"{type(exception).__name__}")
            response["Retry-After"] = str(retry_after_seconds())
        else:
            log.error("api.internal_error", exc_info=exception)
        return response
