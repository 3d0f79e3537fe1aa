"""Nobody takes an account by registering its address: a second sign-up of an
unverified address changes no password by itself; the password that applies
is the one of the sign-up whose token comes with the emailed code, a code
entered without it sets nobody's password while sign-ups compete, and a
right code signs in only the browser that signed up (site forms over real
HTTP)."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from tests.accounts.conftest import assert_error, last_code_for, register
from tests.security.browser import Browser, last_code

VICTIM = "victim@example.ug"
OWNER_PASSWORD = "Owner-pass-2026"
ATTACKER_PASSWORD = "Attacker-pass-2026"


def _token(api, password):
    return api.post("/api/auth/token", {"email": VICTIM, "password": password})


def _verify(api, code, registration=None):
    body = {"email": VICTIM, "code": code}
    if registration is not None:
        body["registration"] = registration
    response = api.post("/api/auth/verify-email", body)
    assert response.status_code == 200, response.content
    return response.json()


def _reset_password(client, new_password):
    """The mailbox owner's way in: the emailed reset link, followed."""
    assert client.post("/password-reset/", {"email": VICTIM}).status_code == 302
    link = re.search(r"https?://[^/\s]+(/password-reset/\S+/)", mail.outbox[-1].body)[1]
    form = client.get(link, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert done.status_code == 302, done.content


@pytest.mark.django_db
def test_registering_an_unverified_address_again_does_not_replace_its_password(api):
    owner = register(api, VICTIM, password=OWNER_PASSWORD)
    assert owner.status_code == 202
    code = last_code_for(VICTIM)
    # Within the resend interval: no new code, the owner's code still works.
    assert register(api, VICTIM, password=ATTACKER_PASSWORD).status_code == 202
    assert len(mail.outbox) == 1
    assert_error(_token(api, ATTACKER_PASSWORD), 401, "invalid_credentials")

    assert _verify(api, code, owner.json()["registration"])["password_reset_needed"] is False
    assert _token(api, OWNER_PASSWORD).status_code == 200
    assert_error(_token(api, ATTACKER_PASSWORD), 401, "invalid_credentials")


@pytest.mark.django_db
def test_the_code_of_a_later_sign_up_sets_that_sign_ups_password(api, settings):
    """Over the API the sign-up's token comes with the code: the owner who
    signs up after a squatter gets their own password, the squatter's ends."""
    settings.OTP_RESEND_INTERVAL = settings.OTP_RESEND_INTERVAL * 0
    register(api, VICTIM, password=ATTACKER_PASSWORD)
    squatter = _token(api, ATTACKER_PASSWORD).json()  # unverified accounts may sign in
    owner = register(api, VICTIM, password=OWNER_PASSWORD)
    code = last_code_for(VICTIM)
    assert _verify(api, code, owner.json()["registration"])["password_reset_needed"] is False
    assert _token(api, OWNER_PASSWORD).status_code == 200
    assert_error(_token(api, ATTACKER_PASSWORD), 401, "invalid_credentials")
    refreshed = api.post("/api/auth/token/refresh", {"refresh": squatter["refresh"]})
    assert_error(refreshed, 401, "invalid_token")


@pytest.mark.django_db
def test_a_code_entered_without_its_sign_up_sets_nobodys_password(api, settings):
    """The owner signs up; the attacker signs the address up again, so the
    newest code (in the owner's mailbox) is bound to the attacker's sign-up.
    The owner enters it on another device, without their sign-up's token:
    the address is verified but neither password works; the owner sets one
    by password reset, and only that one works."""
    settings.OTP_RESEND_INTERVAL = settings.OTP_RESEND_INTERVAL * 0
    register(api, VICTIM, password=OWNER_PASSWORD)
    register(api, VICTIM, password=ATTACKER_PASSWORD)
    assert len(mail.outbox) == 2

    assert _verify(api, last_code_for(VICTIM))["password_reset_needed"] is True
    user = User.objects.get(email=VICTIM)
    assert user.is_email_verified
    assert not user.has_usable_password()
    assert_error(_token(api, ATTACKER_PASSWORD), 401, "invalid_credentials")
    assert_error(_token(api, OWNER_PASSWORD), 401, "invalid_credentials")

    _reset_password(Client(), "Owners-new-pass-2026")
    assert _token(api, "Owners-new-pass-2026").status_code == 200
    assert_error(_token(api, ATTACKER_PASSWORD), 401, "invalid_credentials")


@pytest.mark.django_db
def test_a_code_entered_without_its_sign_up_ends_the_squatters_tokens(api, settings):
    """The attacker signed the address up first and holds tokens of the
    unverified account; the owner signs up and enters the code without the
    token: the squatter's refresh token dies with the password."""
    settings.OTP_RESEND_INTERVAL = settings.OTP_RESEND_INTERVAL * 0
    register(api, VICTIM, password=ATTACKER_PASSWORD)
    squatter = _token(api, ATTACKER_PASSWORD).json()
    register(api, VICTIM, password=OWNER_PASSWORD)

    assert _verify(api, last_code_for(VICTIM))["password_reset_needed"] is True
    assert_error(_token(api, ATTACKER_PASSWORD), 401, "invalid_credentials")
    refreshed = api.post("/api/auth/token/refresh", {"refresh": squatter["refresh"]})
    assert_error(refreshed, 401, "invalid_token")


@pytest.mark.django_db
@pytest.mark.parametrize("attacker_first", [False, True], ids=["owner-first", "attacker-first"])
def test_pushing_the_owners_sign_up_out_gives_the_attacker_nothing(api, settings, attacker_first):
    """The attacker signs the address up more often than sign-ups are kept,
    so the owner's sign-up (and its token) is dropped. Owner-first: each of
    the attacker's sign-ups sends a code bound to it. Attacker-first: the
    attacker's later sign-ups come within the resend interval, so the code
    in the mailbox is still bound to the owner's (now deleted) sign-up and
    the account's current password is the attacker's. Either way the owner
    entering the code with their own (stale) token hands nobody the
    account."""
    from accounts.services import REGISTRATION_ATTEMPTS_KEPT

    interval = settings.OTP_RESEND_INTERVAL
    settings.OTP_RESEND_INTERVAL = interval * 0
    if attacker_first:
        register(api, VICTIM, password=ATTACKER_PASSWORD)
    owner = register(api, VICTIM, password=OWNER_PASSWORD).json()["registration"]
    if attacker_first:
        settings.OTP_RESEND_INTERVAL = interval  # no new code: the owner's stays
    for _ in range(REGISTRATION_ATTEMPTS_KEPT):
        register(api, VICTIM, password=ATTACKER_PASSWORD)

    assert _verify(api, last_code_for(VICTIM), owner)["password_reset_needed"] is True
    assert not User.objects.get(email=VICTIM).has_usable_password()
    assert_error(_token(api, ATTACKER_PASSWORD), 401, "invalid_credentials")
    _reset_password(Client(), "Owners-new-pass-2026")
    assert _token(api, "Owners-new-pass-2026").status_code == 200


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
        assert done.headers["location"] == "/password-reset/"
        assert not attacker.signed_in()
        account = User.objects.get(email=VICTIM)
        assert account.is_email_verified
        # Whoever typed the code did not show a sign-up: no password applies
        # until the mailbox owner sets one by reset.
        assert not account.has_usable_password()
    finally:
        victim.close()
        attacker.close()


@pytest.mark.django_db(transaction=True)
def test_an_address_signed_up_only_by_an_attacker_keeps_no_password_of_theirs(
    live_server, mailoutbox
):
    """The attacker signs up the victim's address (the only sign-up); the
    victim types the code they were sent in their own browser: the address is
    verified, but the attacker's password does not open the account."""
    attacker, owner = Browser(live_server.url), Browser(live_server.url)
    try:
        squat = {"email": VICTIM, "password": ATTACKER_PASSWORD}
        assert attacker.submit("/signup/", squat).is_redirect
        code = last_code(mailoutbox, VICTIM)
        done = owner.submit("/verify/", {"email": VICTIM, "code": code})
        assert done.headers["location"] == "/password-reset/"
        account = User.objects.get(email=VICTIM)
        assert account.is_email_verified
        assert not account.check_password(ATTACKER_PASSWORD)
        login = attacker.submit("/login/", {"username": VICTIM, "password": ATTACKER_PASSWORD})
        assert not attacker.signed_in(), login.status_code
    finally:
        attacker.close()
        owner.close()


@pytest.mark.django_db(transaction=True)
def test_the_site_sends_a_code_entered_without_its_sign_up_to_password_reset(
    live_server, mailoutbox, settings
):
    """The owner signs up in one browser, the attacker in another; the code
    is entered in a third (the owner's phone): verified, nobody signed in,
    the browser is sent to choose a password by reset."""
    settings.OTP_RESEND_INTERVAL = settings.OTP_RESEND_INTERVAL * 0
    owner, attacker, phone = (Browser(live_server.url) for _ in range(3))
    try:
        assert owner.submit("/signup/", {"email": VICTIM, "password": OWNER_PASSWORD}).is_redirect
        attack = {"email": VICTIM, "password": ATTACKER_PASSWORD}
        assert attacker.submit("/signup/", attack).is_redirect

        done = phone.submit("/verify/", {"email": VICTIM, "code": last_code(mailoutbox, VICTIM)})
        assert done.status_code == 302
        assert done.headers["location"] == "/password-reset/"
        assert not phone.signed_in() and not attacker.signed_in()
        user = User.objects.get(email=VICTIM)
        assert user.is_email_verified and not user.has_usable_password()
        login = attacker.submit("/login/", {"username": VICTIM, "password": ATTACKER_PASSWORD})
        assert login.status_code == 200
        assert not attacker.signed_in()
    finally:
        for browser in (owner, attacker, phone):
            browser.close()
