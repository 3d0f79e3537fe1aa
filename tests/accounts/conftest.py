import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD

CODE_RE = re.compile(r"\b(\d{6})\b")


class Api:
    """A DRF test client whose requests run their on-commit callbacks (the
    Celery tasks, eager in tests) as a real commit would, inside the
    test's rolled-back transaction."""

    def __init__(self, capture):
        self.client = APIClient()
        self._capture = capture

    def post(self, path, data=None, **kwargs):
        with self._capture(execute=True):
            return self.client.post(path, data, format="json", **kwargs)

    def get(self, path, **kwargs):
        with self._capture(execute=True):
            return self.client.get(path, **kwargs)

    def bearer(self, access: str | None):
        if access is None:
            self.client.credentials()
        else:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")


@pytest.fixture
def api(django_capture_on_commit_callbacks):
    return Api(django_capture_on_commit_callbacks)


def last_code_for(email: str) -> str:
    """The code in the latest email sent to the address (plain-text part)."""
    sent = [m for m in mail.outbox if email in m.to]
    assert sent, f"no email sent to {email}"
    match = CODE_RE.search(sent[-1].body)
    assert match, sent[-1].body
    return match.group(1)


def register(api, email, password=DEFAULT_PASSWORD):
    return api.post("/api/auth/register", {"email": email, "password": password})


def verified_tokens(api, email, password=DEFAULT_PASSWORD) -> dict:
    """Register, verify with the emailed code and sign in; returns the pair."""
    registered = register(api, email, password)
    assert registered.status_code == 202
    response = api.post(
        "/api/auth/verify-email",
        {
            "email": email,
            "code": last_code_for(email),
            "registration": registered.json()["registration"],
        },
    )
    assert response.status_code == 200, response.json()
    response = api.post("/api/auth/token", {"email": email, "password": password})
    assert response.status_code == 200, response.json()
    return response.json()


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"], body
    if field is not None:
        assert field in body["error"]["details"], body
    return body["error"]
