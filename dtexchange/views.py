"""Error pages: API paths answer in the JSON envelope, site paths in HTML."""

from django.http import JsonResponse
from django.shortcuts import render

from dtexchange.errors import error_body


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if _wants_json(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side. Nothing was charged."),
            status=500,
        )
    return render(request, "500.html", status=500)
