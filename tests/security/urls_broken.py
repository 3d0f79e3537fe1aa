"""The project's URLs plus two API views with a real bug (a DRF view and a
plain Django view), to see what a client gets from an unexpected error."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from dtexchange.urls import urlpatterns as project_urlpatterns


class BrokenApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return {}["missing"]  # KeyError: a bug


def broken_plain(request):
    raise ZeroDivisionError("a bug outside DRF")


urlpatterns = [
    path("api/test/broken", BrokenApi.as_view()),
    path("api/test/broken-plain", broken_plain),
    *project_urlpatterns,
]
