import pytest
from django.core import mail
from django.db import connection

from accounts.models import EmailOTPDevice, User
from tests.accounts.conftest import assert_error, last_code_for, register
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_register_verify_sign_in_and_me(api, settings):
    response = register(api, "New.Person@Example.UG")
    assert response.status_code == 202
    assert "6-digit code" in response.json()["detail"]
    registration = response.json()["registration"]

    # The code arrives by email, in both parts, with the security notice.
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.ug"]
    assert message.subject == "Your DT Exchange verification code"
    code = last_code_for("new.person@example.ug")
    assert code not in message.subject
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert code in html and "#003087" in html and settings.SUPPORT_EMAIL in html
    assert "never ask you for this code" in message.body
    assert settings.SUPPORT_EMAIL in message.body

    # Not verified yet: may sign in, /me says so.
    tokens = api.post(
        "/api/auth/token", {"email": "new.person@example.ug", "password": DEFAULT_PASSWORD}
    ).json()
    api.bearer(tokens["access"])
    assert api.get("/api/auth/me").json()["email_verified"] is False

    response = api.post(
        "/api/auth/verify-email",
        {"email": "NEW.person@example.ug", "code": code, "registration": registration},
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "email": "new.person@example.ug",
        "email_verified": True,
        "password_reset_needed": False,
    }

    api.bearer(None)
    response = api.post(
        "/api/auth/token", {"email": "new.person@example.ug", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    api.bearer(response.json()["access"])
    me = api.get("/api/auth/me")
    assert me.status_code == 200
    body = me.json()
    user = User.objects.get(email="new.person@example.ug")
    assert body["id"] == user.pk
    assert body["email"] == "new.person@example.ug"
    assert body["email_verified"] is True
    assert body["roles"] == ["customer"]
    assert body["full_name"] == ""
    assert body["date_joined"].startswith(str(user.date_joined.year))


def test_code_is_stored_only_as_a_keyed_hash(api):
    register(api, "hash@example.ug")
    code = last_code_for("hash@example.ug")
    device = EmailOTPDevice.objects.get(user__email="hash@example.ug")
    assert device.code_hash and code not in device.code_hash
    # Nowhere in the row, in any column.
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_emailotpdevice WHERE id = %s", [device.pk])
        row = cursor.fetchone()
    assert all(code not in str(value) for value in row)


def test_known_verified_address_gets_the_same_answer_and_no_email(api):
    UserFactory(email="taken@example.ug")
    fresh = register(api, "someone-new@example.ug")
    taken = register(api, "taken@example.ug", password="Another-pass-2026")
    assert taken.status_code == fresh.status_code == 202
    # The same answer: the same message and a sign-up token of the same shape.
    assert set(taken.json()) == set(fresh.json()) == {"detail", "registration"}
    assert taken.json()["detail"] == fresh.json()["detail"]
    assert len(taken.json()["registration"]) == len(fresh.json()["registration"]) == 43
    assert taken.json()["registration"] != fresh.json()["registration"]
    assert [m.to for m in mail.outbox] == [["someone-new@example.ug"]]
    # The password of the existing account did not change.
    assert User.objects.get(email="taken@example.ug").check_password(DEFAULT_PASSWORD)


def test_reregistering_an_unverified_address_replaces_password_and_revokes_sessions(api, settings):
    settings.OTP_RESEND_INTERVAL = settings.OTP_RESEND_INTERVAL * 0  # allow the second code
    register(api, "squat@example.ug", password="Squatter-pass-2026")
    squatter = api.post(
        "/api/auth/token", {"email": "squat@example.ug", "password": "Squatter-pass-2026"}
    ).json()

    # The real owner registers the same address and verifies it.
    owners_sign_up = register(api, "squat@example.ug", password="Owner-pass-2026")
    assert owners_sign_up.status_code == 202
    code = last_code_for("squat@example.ug")
    response = api.post(
        "/api/auth/verify-email",
        {
            "email": "squat@example.ug",
            "code": code,
            "registration": owners_sign_up.json()["registration"],
        },
    )
    assert response.status_code == 200
    assert response.json()["password_reset_needed"] is False

    refused = api.post(
        "/api/auth/token", {"email": "squat@example.ug", "password": "Squatter-pass-2026"}
    )
    assert_error(refused, 401, "invalid_credentials")
    assert_error(
        api.post("/api/auth/token/refresh", {"refresh": squatter["refresh"]}), 401, "invalid_token"
    )
    owner = api.post(
        "/api/auth/token", {"email": "squat@example.ug", "password": "Owner-pass-2026"}
    )
    assert owner.status_code == 200


def test_weak_password_is_refused_naming_the_field_and_nothing_is_written(api):
    for password in ["short1", "password123", "12345678901", "weakweak@example.ug"]:
        response = register(api, "weak@example.ug", password=password)
        error = assert_error(response, 400, "invalid_input", field="password")
        assert error["details"]["password"]
    assert not User.objects.filter(email="weak@example.ug").exists()
    assert mail.outbox == []
