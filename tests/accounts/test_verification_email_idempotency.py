"""The verification-code email task retries on errors: through Resend, a
retry of the same code is the same request (Idempotency-Key) and is not sent
again; a new code is a new email. Resend is the local stub with its rules."""

import pytest
from django.test import override_settings

from accounts.tasks import verification_code_send
from tests.factories import UserFactory
from tests.notifications.resend_stub import ResendStub

pytestmark = pytest.mark.django_db


def test_same_code_twice_is_one_email_a_new_code_another():
    user = UserFactory(email_verified_at=None)
    with ResendStub() as resend, override_settings(MAILERS=resend.mailers()):
        verification_code_send(user_id=user.pk, code="123456")
        verification_code_send(user_id=user.pk, code="123456")  # a retried task
        verification_code_send(user_id=user.pk, code="654321")  # a code asked for again
    keys = [r["idempotency_key"] for r in resend.requests]
    assert keys[0] == keys[1] != keys[2]
    assert all(k.startswith(f"dtx-otp/{user.pk}/") and "123456" not in k for k in keys)
    assert [("123456" in m["text"], "654321" in m["text"]) for m in resend.sent] == [
        (True, False),
        (False, True),
    ]
