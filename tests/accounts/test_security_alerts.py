""" "Was this you?" emails (through the outbox) on a sign-in from a new device
or browser, a password change and a change of second factor, each with a
link to lock the account; locking ("this wasn't me") ends every session,
stops every token and freezes withdrawals until the password is reset."""

import re

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from accounts.security import account_is_locked
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def alerts(user, subject_part=""):
    return [m for m in mail.outbox if m.to == [user.email] and subject_part in m.subject]


def site_login(client, user, password=DEFAULT_PASSWORD):
    response = client.post("/login/", {"username": user.email, "password": password})
    assert response.status_code == 302, response.content[:500]
    return client


def lock_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/account/lock/\S+/)", message.body)[1]


def test_a_sign_in_from_a_new_browser_is_emailed_with_a_lock_link():
    user = UserFactory()
    laptop = site_login(Client(HTTP_USER_AGENT="Firefox on Linux"), user)
    assert alerts(user) == []  # the account's first browser is not news
    laptop.post("/logout/")
    site_login(laptop, user)  # same browser again (its device cookie)
    assert alerts(user) == []
    site_login(Client(HTTP_USER_AGENT="Chrome on Android"), user)
    [alert] = alerts(user, "New sign-in")
    assert "was this you?" in alert.subject
    assert "Chrome on Android" in alert.body
    assert "/account/lock/" in alert.body and "freezes withdrawals" in alert.body


def test_a_new_api_client_is_emailed_too():
    user = UserFactory()
    body = {"email": user.email, "password": DEFAULT_PASSWORD}
    assert APIClient(HTTP_USER_AGENT="dtx-app/1.0").post("/api/auth/token", body).status_code == 200
    assert APIClient(HTTP_USER_AGENT="dtx-app/1.0").post("/api/auth/token", body).status_code == 200
    assert alerts(user) == []
    assert APIClient(HTTP_USER_AGENT="curl/8.0").post("/api/auth/token", body).status_code == 200
    assert "curl/8.0" in alerts(user, "New sign-in")[0].body


def test_a_password_change_is_emailed():
    user = UserFactory()
    user.set_password("another-passphrase-9")
    user.save()
    [alert] = alerts(user, "Your password was changed")
    assert "/account/lock/" in alert.body


def test_an_unverified_address_gets_no_alert():
    user = UserFactory(email_verified_at=None)
    user.set_password("another-passphrase-9")
    user.save()
    assert alerts(user) == []


def test_a_new_staff_authenticator_is_emailed():
    from accounts import staff_otp
    from tests.staff import totp_code

    staff = UserFactory(is_staff=True)
    token = staff_otp.staff_totp_enrolment_start(user=staff)
    device = staff_otp.staff_totp_enrolment_device(token)
    staff_otp.staff_totp_enrolment_finish(
        token=token, password=DEFAULT_PASSWORD, code=totp_code(device)
    )
    assert len(alerts(staff, "second factor")) == 1


def test_this_wasnt_me_locks_everything_until_the_password_is_reset():
    user = UserFactory()
    browser = site_login(Client(HTTP_USER_AGENT="Firefox"), user)
    api = APIClient(HTTP_USER_AGENT="dtx-app/1.0")
    tokens = api.post("/api/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD}).json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api.get("/api/auth/me").status_code == 200
    # The attacker signs in elsewhere; the owner gets the alert.
    attacker = site_login(Client(HTTP_USER_AGENT="Evil browser"), user)
    path = lock_path(alerts(user, "New sign-in")[0])

    owner = Client()
    page = owner.get(path)  # opening the link (or a mail scanner) changes nothing
    assert page.status_code == 200 and b"Lock my account" in page.content
    assert not account_is_locked(User.objects.get(pk=user.pk))
    assert b"Your account is locked" in owner.post(path).content

    user.refresh_from_db()
    assert account_is_locked(user)
    # Every session is gone, the attacker's and the owner's...
    for client in (browser, attacker):
        assert client.get("/dashboard/").status_code == 302
    # ...the access token still out stops at once, the refresh token too...
    assert api.get("/api/auth/me").status_code == 401
    refreshed = APIClient().post("/api/auth/token/refresh", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 401
    # ...and the password no longer signs in anywhere.
    again = Client().post("/login/", {"username": user.email, "password": DEFAULT_PASSWORD})
    assert again.status_code == 200
    assert (
        APIClient()
        .post("/api/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD})
        .status_code
        == 401
    )
    # The link is spent.
    assert owner.get(path).status_code == 400

    # The owner resets the password through the mailbox: unlocked.
    mail.outbox.clear()
    assert owner.post("/password-reset/", {"email": user.email}).status_code == 302
    link = re.search(r"https?://[^/\s]+(/password-reset/\S+/)", mail.outbox[-1].body)[1]
    form = owner.get(link, follow=True)
    owner.post(
        form.redirect_chain[-1][0],
        {"new_password1": "fresh-passphrase-7", "new_password2": "fresh-passphrase-7"},
    )
    user.refresh_from_db()
    assert not account_is_locked(user)
    site_login(Client(), user, password="fresh-passphrase-7")


def test_a_forged_or_tampered_lock_link_is_refused():
    user = UserFactory()
    assert Client().get("/account/lock/not-a-token/").status_code == 400
    from accounts.security import account_lock_token

    token = account_lock_token(user)
    assert Client().post(f"/account/lock/{token[:-2]}xx/").status_code == 400
    user.refresh_from_db()
    assert not account_is_locked(user)
