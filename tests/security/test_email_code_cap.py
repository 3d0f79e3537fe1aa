"""Every emailed code counts against one daily cap per address: asking for a
new code no longer buys five new guesses."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.codes import email_code_failures_today
from accounts.models import EmailCodeFailureDay, User
from accounts.services import InvalidCode, email_verify, user_register
from tests.accounts.conftest import assert_error, last_code_for, register

EMAIL = "guess@example.ug"


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


@pytest.fixture
def fast_codes(settings):
    settings.OTP_THROTTLE_FACTOR = 0  # no pause between tries: only the caps count
    settings.OTP_RESEND_INTERVAL = timedelta(0)
    settings.EMAIL_CODE_MAX_FAILURES_PER_DAY = 7
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "otp": "1000/min",
            "auth_ip": "1000/min",
        },
    }


@pytest.mark.django_db
def test_new_codes_do_not_reset_the_daily_cap(api, fast_codes):
    register(api, EMAIL)
    for _ in range(5):  # the first code is spent by its own limit
        wrong = _wrong(last_code_for(EMAIL))
        assert_error(
            api.post("/api/auth/verify-email", {"email": EMAIL, "code": wrong}), 400, "invalid_code"
        )
    assert api.post("/api/auth/resend-code", {"email": EMAIL}).status_code == 202
    for _ in range(2):
        wrong = _wrong(last_code_for(EMAIL))
        api.post("/api/auth/verify-email", {"email": EMAIL, "code": wrong})
    assert email_code_failures_today(email=EMAIL) == 7

    # Seven wrong codes today: even the right code of a fresh one is refused.
    time.sleep(1.1)  # the API's own one-resend-per-interval throttle (at least 1 s)
    assert api.post("/api/auth/resend-code", {"email": EMAIL}).status_code == 202
    right = last_code_for(EMAIL)
    assert_error(
        api.post("/api/auth/verify-email", {"email": EMAIL, "code": right}), 400, "invalid_code"
    )
    assert not User.objects.get(email=EMAIL).is_email_verified

    # The next day the address may try again.
    EmailCodeFailureDay.objects.update(day=EmailCodeFailureDay.objects.get().day - timedelta(1))
    assert api.post("/api/auth/verify-email", {"email": EMAIL, "code": right}).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_cannot_pass_the_cap_together(settings, mailoutbox):
    settings.OTP_THROTTLE_FACTOR = 0
    settings.OTP_MAX_ATTEMPTS = 100
    settings.EMAIL_CODE_MAX_FAILURES_PER_DAY = 3
    user_register(email=EMAIL, password="Guess-pass-2026")
    right = last_code_for(EMAIL)
    barrier = threading.Barrier(10)

    def guess():
        try:
            barrier.wait()
            email_verify(email=EMAIL, code=_wrong(right))
        except InvalidCode:
            pass
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert email_code_failures_today(email=EMAIL) == 3
    with pytest.raises(InvalidCode):
        email_verify(email=EMAIL, code=right)


@pytest.mark.django_db
def test_a_stranger_cannot_use_up_the_owners_day_when_no_code_is_waiting(api, fast_codes):
    """The denial of service: posting wrong codes for an address whose code
    expired (or a verified or unknown address) counts nothing, so the owner's
    next code still works."""
    from accounts.models import EmailOTPDevice
    from tests.factories import UserFactory

    register(api, EMAIL)
    EmailOTPDevice.objects.filter(user__email=EMAIL).update(valid_until=timezone.now())
    verified = UserFactory(email="done@example.ug")
    for address in (EMAIL, verified.email, "nobody@example.ug"):
        for _ in range(10):
            response = api.post("/api/auth/verify-email", {"email": address, "code": "123456"})
            assert_error(response, 400, "invalid_code")
        assert email_code_failures_today(email=address) == 0

    assert api.post("/api/auth/resend-code", {"email": EMAIL}).status_code == 202
    right = last_code_for(EMAIL)
    assert api.post("/api/auth/verify-email", {"email": EMAIL, "code": right}).status_code == 200


@pytest.mark.django_db
def test_tries_refused_by_the_codes_own_limit_do_not_count(api, fast_codes):
    """Past the code's own 5 wrong tries nothing is checked, so nothing more
    is counted: the day keeps room for the owner's next code."""
    register(api, EMAIL)
    wrong = _wrong(last_code_for(EMAIL))
    for _ in range(15):
        api.post("/api/auth/verify-email", {"email": EMAIL, "code": wrong})
    assert email_code_failures_today(email=EMAIL) == 5
    time.sleep(1.1)  # the API's one-resend-per-interval throttle
    assert api.post("/api/auth/resend-code", {"email": EMAIL}).status_code == 202
    right = last_code_for(EMAIL)
    assert api.post("/api/auth/verify-email", {"email": EMAIL, "code": right}).status_code == 200
