from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import UserFactory, VoucherFactory
from tests.vouchers.conftest import VALIDATE_URL
from vouchers.models import Voucher
from vouchers.services import voucher_expire_due, voucher_redeem, voucher_void

pytestmark = pytest.mark.django_db


def test_usable_voucher_says_amount_expiry_and_suffix(api, voucher):
    typed = voucher.plain_code.lower().replace("-", " ")
    response = api.post(VALIDATE_URL, {"voucher_code": typed, "currency": "UGX"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "valid": True,
        "reason": "ok",
        "message": "This voucher can be used.",
        "currency": "UGX",
        "amount": "50000",
        "expires_at": voucher.expires_at.isoformat(),
        "code_suffix": voucher.plain_code[-4:],
    }


def test_usd_amount_is_a_decimal_string_with_cents(api):
    voucher = VoucherFactory(amount=Decimal("25"), currency="USD")
    response = api.post(
        VALIDATE_URL, {"voucher_code": voucher.plain_code, "currency": "USD"}, format="json"
    )
    assert response.json()["amount"] == "25.00"


def _answer(api, code, currency="UGX"):
    response = api.post(VALIDATE_URL, {"voucher_code": code, "currency": currency}, format="json")
    assert response.status_code == 200
    return response.json()


def test_unknown_redeemed_void_and_expired_answer_identically(api, user):
    redeemed, void, expired, expired_swept = (VoucherFactory() for _ in range(4))
    voucher_redeem(voucher_id=redeemed.pk, currency="UGX", user=user)
    voucher_void(voucher_id=void.pk, actor=UserFactory(is_staff=True), reason="lost batch")
    past = timezone.now() - timedelta(seconds=1)
    Voucher.objects.filter(pk__in=[expired.pk, expired_swept.pk]).update(expires_at=past)
    assert voucher_expire_due() == 2
    Voucher.objects.filter(pk=expired.pk).update(status="active", expired_at=None)

    unknown = _answer(api, "DTX-2345-6789-ABCD-EFGH-JKMN")
    assert unknown == {
        "valid": False,
        "reason": "unavailable",
        "message": "This voucher code cannot be used. Check the code, or contact support.",
    }
    for v in (redeemed, void, expired, expired_swept):
        assert _answer(api, v.plain_code) == unknown
        # ...and the same whatever currency is asked.
        assert _answer(api, v.plain_code, "USD") == unknown


def test_usable_voucher_in_the_other_currency_names_its_currency(api, voucher):
    assert _answer(api, voucher.plain_code, "USD") == {
        "valid": False,
        "reason": "currency_mismatch",
        "message": "This voucher is in UGX.",
        "currency": "UGX",
    }


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"voucher_code": "DTX-ABCD", "currency": "UGX"}, "invalid_voucher_code", "voucher_code"),
        ({"voucher_code": "O" * 20, "currency": "UGX"}, "invalid_voucher_code", "voucher_code"),
        ({"voucher_code": "", "currency": "UGX"}, "invalid_input", "voucher_code"),
        ({"currency": "UGX"}, "invalid_input", "voucher_code"),
        ({"voucher_code": "X" * 65, "currency": "UGX"}, "invalid_input", "voucher_code"),
        ({"voucher_code": "DTX-2345-6789-ABCD-EFGH-JKMN"}, "invalid_input", "currency"),
        (
            {"voucher_code": "DTX-2345-6789-ABCD-EFGH-JKMN", "currency": "EUR"},
            "unknown_currency",
            "currency",
        ),
        ({"voucher_code": ["a"], "currency": "UGX"}, "invalid_input", "voucher_code"),
    ],
)
def test_bad_input_gets_the_envelope(api, payload, code, field):
    response = api.post(VALIDATE_URL, payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert field in error["details"]
    assert error["message"]


def test_malformed_json_gets_the_envelope(api):
    response = api.post(VALIDATE_URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_anonymous_is_refused(voucher):
    response = APIClient().post(
        VALIDATE_URL, {"voucher_code": voucher.plain_code, "currency": "UGX"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_get_is_not_allowed(api):
    response = api.get(VALIDATE_URL)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_validation_changes_nothing(api, voucher):
    before = list(Voucher.objects.values())
    _answer(api, voucher.plain_code)
    _answer(api, voucher.plain_code, "USD")
    assert list(Voucher.objects.values()) == before
