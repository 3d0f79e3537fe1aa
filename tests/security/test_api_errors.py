"""Every unexpected API error is the JSON envelope: 500 ``internal_error``
with the request id for a bug, 503 ``service_unavailable`` with Retry-After
when the database or Redis cannot be reached (tried for real: a server whose
DATABASE_URL / REDIS_URL point at a closed port)."""

import json
import socket
import urllib.error
import urllib.request

import pytest

from tests.notifications.daphne_server import daphne_server


@pytest.fixture
def closed_port():
    """Bound (nobody else takes it during the test) but not listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def _call(port: int, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        headers={"Content-Type": "application/json", "X-Request-ID": "probe-123"},
        method="POST" if data is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _assert_unavailable(status, headers, raw):
    assert status == 503, raw[:500]
    assert headers["Content-Type"].startswith("application/json")
    body = json.loads(raw)
    assert body["error"]["code"] == "service_unavailable"
    assert body["error"]["details"]["request_id"] == "probe-123"
    assert int(headers["Retry-After"]) > 0


@pytest.mark.django_db
def test_database_unreachable_is_a_503_envelope(closed_port):
    dead = f"postgres://postgres@127.0.0.1:{closed_port}/nowhere"
    with daphne_server(extra_env={"DATABASE_URL": dead}) as server:
        # Sign-in reads the user from the database.
        _assert_unavailable(
            *_call(server["port"], "/api/auth/token", {"email": "a@b.test", "password": "x" * 12})
        )
        # Registration writes to the database.
        _assert_unavailable(
            *_call(
                server["port"],
                "/api/auth/register",
                {"email": "new@b.test", "password": "Long-enough-pass-2026"},
            )
        )
        # The probe says "not ready"; loopback is a trusted network, so the
        # details are there for the operator on the machine.
        status, _headers, raw = _call(server["port"], "/readyz")
        assert json.loads(raw)["failed"] == ["database"]
        assert status == 503


@pytest.mark.django_db
def test_redis_unreachable_is_a_503_envelope(closed_port):
    dead = f"redis://127.0.0.1:{closed_port}/0"
    with daphne_server(extra_env={"REDIS_URL": dead}) as server:
        # The sign-in rate limit counts in Redis before anything else.
        _assert_unavailable(
            *_call(server["port"], "/api/auth/token", {"email": "a@b.test", "password": "x" * 12})
        )


@pytest.mark.django_db
@pytest.mark.urls("tests.security.urls_broken")
def test_a_bug_in_a_drf_view_is_a_500_envelope_with_the_request_id(client):
    response = client.get("/api/test/broken", HTTP_X_REQUEST_ID="bug-1")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "Something went wrong on our side. Nothing was charged.",
        "details": {"request_id": "bug-1"},
    }


@pytest.mark.django_db
@pytest.mark.urls("tests.security.urls_broken")
def test_a_bug_in_a_plain_api_view_is_a_500_envelope_also_with_debug_on(client, settings):
    settings.DEBUG = True  # Django would answer with its HTML debug page
    response = client.get("/api/test/broken-plain", HTTP_X_REQUEST_ID="bug-2")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert response.json()["error"]["details"]["request_id"] == "bug-2"


def test_handler500_answers_json_for_api_paths():
    from django.test import RequestFactory

    from dtexchange.views import server_error

    request = RequestFactory().get("/api/trading/trades")
    request.request_id = "r-9"
    try:
        raise ConnectionRefusedError
    except ConnectionRefusedError:
        response = server_error(request)
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["details"] == {"request_id": "r-9"}


NOTHING = "Nothing was charged"
MAYBE = "may already have gone through"


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.security.urls_broken")
@pytest.mark.parametrize(
    ("path", "status", "committed"),
    [
        ("/api/test/committed-then-outage", 503, True),
        ("/api/test/broker-down-on-commit", 503, True),
        ("/api/test/committed-then-bug", 500, True),
        ("/api/test/rolled-back-outage", 503, False),
        ("/api/test/broken-plain", 500, False),
    ],
)
def test_nothing_was_charged_is_said_only_when_nothing_committed(client, path, status, committed):
    """Real commits (a transactional test): an error after a write committed
    must not tell the client that nothing happened, or they pay twice."""
    from accounts.models import EmailCodeFailureDay

    response = client.post(path, HTTP_X_REQUEST_ID="commit-1")
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == ("service_unavailable" if status == 503 else "internal_error")
    assert error["details"] == {"request_id": "commit-1"}
    rows = EmailCodeFailureDay.objects.count()
    if committed:
        assert rows == 1
        assert NOTHING not in error["message"] and MAYBE in error["message"]
    else:
        assert rows == 0
        assert NOTHING in error["message"] and MAYBE not in error["message"]
