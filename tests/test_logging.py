import io
import json
import logging

import pytest

from dtexchange.logging import configure_logging


@pytest.fixture
def json_log_lines():
    """The production log format (LOG_JSON on), captured from the root logger."""
    configure_logging(level="INFO", json=True)
    root = logging.getLogger()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    root.removeHandler(handler)
    configure_logging(level="WARNING", json=False)  # as tests.settings has it


@pytest.mark.django_db
def test_each_log_line_is_json_with_the_request_id(client, json_log_lines):
    response = client.get("/api/auth/me", HTTP_X_REQUEST_ID="req-abc.123")
    assert response.status_code == 401
    assert response["X-Request-ID"] == "req-abc.123"
    refused = [line for line in json_log_lines() if line.get("logger") == "django.request"]
    assert refused, json_log_lines()
    assert refused[0]["request_id"] == "req-abc.123"
    assert refused[0]["level"] == "warning"
    assert "timestamp" in refused[0]


@pytest.mark.django_db
def test_auth_events_are_logged_without_secrets(client, json_log_lines):
    client.post(
        "/api/auth/token",
        {"email": "nobody@example.test", "password": "Secret-pass-2026"},
        content_type="application/json",
    )
    events = [line for line in json_log_lines() if line.get("event") == "auth.login_failed"]
    assert len(events) == 1
    text = json.dumps(json_log_lines())
    assert "nobody@example.test" not in text and "Secret-pass-2026" not in text


@pytest.mark.django_db
def test_a_malformed_request_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32
