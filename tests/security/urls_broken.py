"""The project's URLs plus API views with a real bug (a DRF view and a plain
Django view), and views that fail after (or before) their write committed,
to see what a client gets from an unexpected error."""

from django.db import transaction
from django.urls import path
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from dtexchange.urls import urlpatterns as project_urlpatterns


class BrokenApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return {}["missing"]  # KeyError: a bug


def broken_plain(request):
    raise ZeroDivisionError("a bug outside DRF")


def _write(tag: str) -> None:
    from accounts.models import EmailCodeFailureDay

    EmailCodeFailureDay.objects.create(address_hash=tag, day=timezone.localdate())


class CommittedThenOutageApi(APIView):
    """The write commits; then Redis is gone."""

    permission_classes = [AllowAny]

    def post(self, request):
        with transaction.atomic():
            _write("committed-then-outage")
        raise RedisConnectionError("Redis went away")


class RolledBackOutageApi(APIView):
    """Redis is gone before the transaction ends: its write rolls back."""

    permission_classes = [AllowAny]

    def post(self, request):
        with transaction.atomic():
            _write("rolled-back")
            raise RedisConnectionError("Redis went away")


class BrokerDownOnCommitApi(APIView):
    """The transaction commits; the task its on-commit hook queues cannot
    reach the broker (the hook's exception escapes the atomic block)."""

    permission_classes = [AllowAny]

    def post(self, request):
        def queue():
            raise BrokerError("Error 111 connecting to the broker. Connection refused.")

        with transaction.atomic():
            _write("broker-down")
            transaction.on_commit(queue)
        return None


def committed_then_bug_plain(request):
    _write("committed-then-bug")  # autocommit: committed at once
    raise ZeroDivisionError("a bug after the write")


urlpatterns = [
    path("api/test/broken", BrokenApi.as_view()),
    path("api/test/broken-plain", broken_plain),
    path("api/test/committed-then-outage", CommittedThenOutageApi.as_view()),
    path("api/test/rolled-back-outage", RolledBackOutageApi.as_view()),
    path("api/test/broker-down-on-commit", BrokerDownOnCommitApi.as_view()),
    path("api/test/committed-then-bug", committed_then_bug_plain),
    *project_urlpatterns,
]
