"""Nobody takes an account by registering its address: a second sign-up of an
unverified address changes no password by itself; the password that applies
is the one of whoever enters the emailed code, and a right code signs in only
the browser that signed up (site forms over real HTTP)."""

import pytest
from django.core import mail

from accounts.models import User
from tests.accounts.conftest import assert_error, last_code_for, register
from tests.security.browser import Browser, last_code

VICTIM = "victim@example.ug"
OWNER_PASSWORD = "Owner-pass-2026"
ATTACKER_PASSWORD = "Attacker-pass-2026"


def _token(api, password):
    return api.post("/api/auth/token", {"email": VICTIM, "password": password})


@pytest.mark.django_db
def test_registering_an_unverified_address_again_does_not_replace_its_password(api):
    assert register(api, VICTIM, password=OWNER_PASSWORD).status_code == 202
    code = last_code_for(VICTIM)
    # Within the resend interval: no new code, the owner's code still works.
    assert register(api, VICTIM, password=ATTACKER_PASSWORD).status_code == 202
    assert len(mail.outbox) == 1
    assert_error(_token(api, ATTACKER_PASSWORD), 401, "invalid_credentials")

    assert api.post("/api/auth/verify-email", {"email": VICTIM, "code": code}).status_code == 200
    assert _token(api, OWNER_PASSWORD).status_code == 200
    assert_error(_token(api, ATTACKER_PASSWORD), 401, "invalid_credentials")


@pytest.mark.django_db
def test_the_code_of_a_later_sign_up_sets_that_sign_ups_password(api, settings):
    """Over the API the code names its sign-up: the owner who re-registers
    (they forgot the password) gets the new one with the new code."""
    settings.OTP_RESEND_INTERVAL = settings.OTP_RESEND_INTERVAL * 0
    register(api, VICTIM, password=ATTACKER_PASSWORD)
    register(api, VICTIM, password=OWNER_PASSWORD)
    code = last_code_for(VICTIM)
    assert api.post("/api/auth/verify-email", {"email": VICTIM, "code": code}).status_code == 200
    assert _token(api, OWNER_PASSWORD).status_code == 200
    assert_error(_token(api, ATTACKER_PASSWORD), 401, "invalid_credentials")


@pytest.mark.django_db(transaction=True)
def test_the_victims_browser_keeps_its_own_password_whatever_code_it_enters(
    live_server, mailoutbox, settings
):
    """The attack of the review: the victim signs up; the attacker signs the
    same address up again from another browser (a new code goes out). The
    victim enters the newest code in their own browser: they are signed in
    with the password *they* chose, and the attacker's does not work."""
    settings.OTP_RESEND_INTERVAL = settings.OTP_RESEND_INTERVAL * 0
    victim, attacker = Browser(live_server.url), Browser(live_server.url)
    try:
        signup = {"email": VICTIM, "password": OWNER_PASSWORD}
        assert victim.submit("/signup/", signup).status_code == 302
        attack = {"email": VICTIM, "password": ATTACKER_PASSWORD}
        assert attacker.submit("/signup/", attack).status_code == 302
        assert len(mailoutbox) == 2

        done = victim.submit("/verify/", {"email": VICTIM, "code": last_code(mailoutbox, VICTIM)})
        assert done.status_code == 302
        assert done.headers["location"] == "/dashboard/"
        assert victim.signed_in()
        assert not attacker.signed_in()

        user = User.objects.get(email=VICTIM)
        assert user.is_email_verified
        assert user.check_password(OWNER_PASSWORD)
        assert not user.check_password(ATTACKER_PASSWORD)
        login = attacker.submit("/login/", {"username": VICTIM, "password": ATTACKER_PASSWORD})
        assert login.status_code == 200  # the form again, with an error
        assert not attacker.signed_in()
    finally:
        victim.close()
        attacker.close()


@pytest.mark.django_db(transaction=True)
def test_a_right_code_signs_in_only_the_browser_that_signed_up(live_server, mailoutbox):
    """The attacker's browser asks for a resend for the victim's address and
    then enters the right code (a lucky guess; here read from the mailbox):
    the address is verified, but the attacker's browser is not signed in."""
    victim, attacker = Browser(live_server.url), Browser(live_server.url)
    try:
        victim.submit("/signup/", {"email": VICTIM, "password": OWNER_PASSWORD})
        resent = attacker.submit("/verify/", {"email": VICTIM}, action="/verify/resend/")
        assert resent.status_code == 302
        code = last_code(mailoutbox, VICTIM)

        done = attacker.submit("/verify/", {"email": VICTIM, "code": code})
        assert done.status_code == 302
        assert done.headers["location"] == "/login/"
        assert not attacker.signed_in()
        assert User.objects.get(email=VICTIM).is_email_verified
        # The owner signs in with their own password.
        login = victim.submit("/login/", {"username": VICTIM, "password": OWNER_PASSWORD})
        assert login.status_code == 302
        assert victim.signed_in()
    finally:
        victim.close()
        attacker.close()
