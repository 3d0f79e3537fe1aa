import pytest
from django.core import mail

from accounts.models import User
from tests.accounts.conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/auth/register", {}, "email"),
        ("/api/auth/register", {"password": "Good-pass-2026"}, "email"),
        ("/api/auth/register", {"email": "not-an-email", "password": "Good-pass-2026"}, "email"),
        ("/api/auth/register", {"email": ["a@example.ug"], "password": "Good-pass"}, "email"),
        ("/api/auth/register", {"email": "a@example.ug"}, "password"),
        ("/api/auth/register", {"email": "a@example.ug", "password": ""}, "password"),
        ("/api/auth/register", {"email": "a@example.ug", "password": "x" * 129}, "password"),
        ("/api/auth/register", {"email": "a@example.ug", "password": None}, "password"),
        ("/api/auth/register", {"email": "a" * 250 + "@x.ug", "password": "Good-pass"}, "email"),
        ("/api/auth/verify-email", {"email": "a@example.ug"}, "code"),
        ("/api/auth/verify-email", {"email": "a@example.ug", "code": "12345"}, "code"),
        ("/api/auth/verify-email", {"email": "a@example.ug", "code": "1234567"}, "code"),
        ("/api/auth/verify-email", {"email": "a@example.ug", "code": "12a456"}, "code"),
        ("/api/auth/verify-email", {"code": "123456"}, "email"),
        ("/api/auth/resend-code", {}, "email"),
        ("/api/auth/resend-code", {"email": "@@"}, "email"),
        ("/api/auth/token", {"email": "a@example.ug"}, "password"),
        ("/api/auth/token", {"password": "x"}, "email"),
        ("/api/auth/token/refresh", {}, "refresh"),
        ("/api/auth/token/refresh", {"refresh": ""}, "refresh"),
        ("/api/auth/logout", {}, "refresh"),
        ("/api/auth/logout", {"refresh": {"a": 1}}, "refresh"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, path, body, field):
    error = assert_error(api.post(path, body), 400, "invalid_input", field=field)
    assert field in error["message"]
    assert not User.objects.exists()
    assert mail.outbox == []


def test_a_json_array_body_is_a_400(api):
    assert_error(api.post("/api/auth/register", [1, 2]), 400, "invalid_input")


def test_malformed_json_is_a_400(api):
    response = api.client.post(
        "/api/auth/register", data="{not json", content_type="application/json"
    )
    assert_error(response, 400, "malformed_request")


def test_unsupported_media_type_is_a_415(api):
    response = api.client.post("/api/auth/token", data="email=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_wrong_method_is_a_405(api):
    assert_error(api.get("/api/auth/register"), 405, "method_not_allowed")
    assert_error(api.client.delete("/api/auth/me"), 401, "not_authenticated")


def test_a_form_encoded_body_is_refused_the_api_speaks_json(api):
    # The published schema lists application/json only; the API takes just that.
    response = api.client.post(
        "/api/auth/token", {"email": "nobody@example.ug", "password": "x"}, format="multipart"
    )
    assert_error(response, 415, "unsupported_media_type")
