"""Error pages: API paths answer in the JSON envelope, site paths in HTML."""

import sys

from django.http import JsonResponse
from django.shortcuts import render

from dtexchange.errors import error_body, retry_after_seconds, unexpected_error_body


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    # Django calls this inside its except block: the exception is at hand.
    exc = sys.exc_info()[1]
    body, status = unexpected_error_body(exc, getattr(request, "request_id", ""))
    if _wants_json(request):
        response = JsonResponse(body, status=status)
        if status == 503:
            response["Retry-After"] = str(retry_after_seconds())
        return response
    if status == 503:
        response = render(request, "500.html", status=503)
        response["Retry-After"] = str(retry_after_seconds())
        return response
    return render(request, "500.html", status=500)
