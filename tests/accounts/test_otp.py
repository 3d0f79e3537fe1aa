from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import User
from tests.accounts.conftest import assert_error, last_code_for, register

pytestmark = pytest.mark.django_db

EMAIL = "otp@example.ug"


def verify(api, code, email=EMAIL):
    return api.post("/api/auth/verify-email", {"email": email, "code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def is_verified(email=EMAIL) -> bool:
    return User.objects.get(email=email).email_verified_at is not None


def test_code_expires_after_ttl(api, settings):
    start = timezone.now()
    with freeze_time(start) as clock:
        register(api, EMAIL)
        code = last_code_for(EMAIL)
        clock.move_to(start + settings.OTP_CODE_TTL + timedelta(seconds=1))
        assert_error(verify(api, code), 400, "invalid_code")
    assert not is_verified()


def test_code_just_before_expiry_works(api, settings):
    start = timezone.now()
    with freeze_time(start) as clock:
        register(api, EMAIL)
        clock.move_to(start + settings.OTP_CODE_TTL - timedelta(seconds=5))
        assert verify(api, last_code_for(EMAIL)).status_code == 200
    assert is_verified()


def test_code_is_single_use(api):
    register(api, EMAIL)
    code = last_code_for(EMAIL)
    assert verify(api, code).status_code == 200
    assert_error(verify(api, code), 400, "invalid_code")


def test_attempt_limit_spends_the_code(api, settings):
    start = timezone.now()
    with freeze_time(start) as clock:
        register(api, EMAIL)
        code = last_code_for(EMAIL)
        for _ in range(settings.OTP_MAX_ATTEMPTS):
            assert_error(verify(api, wrong(code)), 400, "invalid_code")
            clock.tick(timedelta(seconds=60))  # past ThrottlingMixin's back-off
        # The right code no longer works: this code had its tries.
        assert_error(verify(api, code), 400, "invalid_code")
        assert not is_verified()

        # A new code starts a new count.
        clock.tick(settings.OTP_RESEND_INTERVAL)
        assert api.post("/api/auth/resend-code", {"email": EMAIL}).status_code == 202
        new_code = last_code_for(EMAIL)
        assert verify(api, new_code).status_code == 200
    assert is_verified()


def test_wrong_tries_back_off_exponentially(api):
    start = timezone.now()
    with freeze_time(start) as clock:
        register(api, EMAIL)
        code = last_code_for(EMAIL)
        verify(api, wrong(code))
        verify(api, wrong(code))  # refused before checking (1 s pause): not counted
        clock.tick(timedelta(seconds=1.5))
        verify(api, wrong(code))  # second counted failure: now a 2 s pause
        clock.tick(timedelta(seconds=1))
        assert_error(verify(api, code), 400, "invalid_code")  # still pausing
        clock.tick(timedelta(seconds=1.5))
        assert verify(api, code).status_code == 200


def test_unknown_address_and_wrong_code_answer_alike(api):
    register(api, EMAIL)
    known = verify(api, wrong(last_code_for(EMAIL))).json()
    unknown = verify(api, "123456", email="nobody@example.ug").json()
    assert known == unknown


def test_resend_is_throttled_and_replaces_the_code(api, settings):
    start = timezone.now()
    with freeze_time(start) as clock:
        register(api, EMAIL)
        first = last_code_for(EMAIL)
        # Right after registering: accepted, but the device cooldown sends nothing.
        assert api.post("/api/auth/resend-code", {"email": EMAIL}).status_code == 202
        assert len(mail.outbox) == 1
        # Again within the interval: 429 with Retry-After.
        response = api.post("/api/auth/resend-code", {"email": EMAIL})
        error = assert_error(response, 429, "throttled")
        assert 0 < int(response["Retry-After"]) <= settings.OTP_RESEND_INTERVAL.total_seconds()
        assert error["details"]["retry_after_seconds"] == int(response["Retry-After"])

        clock.tick(settings.OTP_RESEND_INTERVAL + timedelta(seconds=1))
        assert api.post("/api/auth/resend-code", {"email": EMAIL}).status_code == 202
        assert len(mail.outbox) == 2
        second = last_code_for(EMAIL)
        if second != first:  # one in a million they coincide
            assert_error(verify(api, first), 400, "invalid_code")
            clock.tick(timedelta(seconds=2))  # the back-off after a wrong try
        assert verify(api, second).status_code == 200


def test_resend_answers_alike_for_unknown_and_verified_addresses(api):
    register(api, EMAIL)
    answers = [
        api.post("/api/auth/resend-code", {"email": e}) for e in (EMAIL, "nobody@example.ug")
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()
    second = [api.post("/api/auth/resend-code", {"email": e}) for e in (EMAIL, "nobody@example.ug")]
    assert [a.status_code for a in second] == [429, 429]
    assert len(mail.outbox) == 1
