"""Sign up and email verification pages, without JavaScript (plain form posts)."""

import re

import pytest

from accounts.models import User
from tests.factories import UserFactory

PASSWORD = "a-long-passphrase-1"


def _code(mail) -> str:
    return re.search(r"\b(\d{6})\b", mail.body).group(1)


@pytest.mark.django_db(transaction=True)
def test_sign_up_then_verify_with_the_six_boxes_signs_you_in(client, mailoutbox):
    page = client.get("/signup/")
    assert b"csrfmiddlewaretoken" in page.content
    response = client.post("/signup/", {"email": "New@Example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/verify/"
    assert len(mailoutbox) == 1
    code = _code(mailoutbox[0])
    verify = client.get("/verify/")
    assert b"new@example.com" in verify.content
    boxes = {f"d{i + 1}": digit for i, digit in enumerate(code)}
    done = client.post("/verify/", {"email": "new@example.com", **boxes})
    assert done.status_code == 302
    assert done["Location"] == "/dashboard/"
    user = User.objects.get(email="new@example.com")
    assert user.is_email_verified
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db(transaction=True)
def test_a_pasted_code_in_the_first_box_works(client, mailoutbox):
    client.post("/signup/", {"email": "paste@example.com", "password": PASSWORD})
    code = _code(mailoutbox[0])
    done = client.post("/verify/", {"email": "paste@example.com", "d1": f" {code[:3]} {code[3:]}"})
    assert done.status_code == 302
    assert User.objects.get(email="paste@example.com").is_email_verified


@pytest.mark.django_db(transaction=True)
def test_a_wrong_code_is_refused_with_a_clear_message(client, mailoutbox):
    client.post("/signup/", {"email": "wrong@example.com", "password": PASSWORD})
    code = _code(mailoutbox[0])
    wrong = "000000" if code != "000000" else "111111"
    response = client.post("/verify/", {"email": "wrong@example.com", "code": wrong})
    assert response.status_code == 200
    assert b"That code is not valid" in response.content
    assert not User.objects.get(email="wrong@example.com").is_email_verified
    short = client.post("/verify/", {"email": "wrong@example.com", "code": "12"})
    assert b"Enter the 6-digit code" in short.content


@pytest.mark.django_db(transaction=True)
def test_a_weak_password_is_explained_next_to_the_field(client, mailoutbox):
    response = client.post("/signup/", {"email": "weak@example.com", "password": "123"})
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not User.objects.filter(email="weak@example.com").exists()
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_signing_up_a_verified_address_looks_the_same_and_changes_nothing(client, mailoutbox):
    user = UserFactory(email="taken@example.com")
    response = client.post("/signup/", {"email": "taken@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/verify/"
    assert mailoutbox == []
    user.refresh_from_db()
    assert not user.check_password(PASSWORD)


@pytest.mark.django_db(transaction=True)
def test_verifying_from_another_browser_does_not_sign_in(client, mailoutbox):
    from django.test import Client

    client.post("/signup/", {"email": "other@example.com", "password": PASSWORD})
    code = _code(mailoutbox[0])
    stranger = Client()
    response = stranger.post("/verify/", {"email": "other@example.com", "code": code})
    assert response.status_code == 302
    # Nobody showed which sign-up is theirs: the mailbox owner chooses the
    # password by reset.
    assert response["Location"] == "/password-reset/"
    assert "_auth_user_id" not in stranger.session


@pytest.mark.django_db(transaction=True)
def test_resend_sends_a_new_code_after_the_interval(client, mailoutbox, settings):
    from datetime import timedelta

    settings.OTP_RESEND_INTERVAL = timedelta(seconds=0)
    client.post("/signup/", {"email": "again@example.com", "password": PASSWORD})
    response = client.post("/verify/resend/", {"email": "again@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 2
    page = client.get("/verify/")
    assert b"a new code is on its way" in page.content
