"""POST/GET /api/wallet/deposits and /api/wallet/deposits/{id}: shapes,
Idempotency-Key, other people's top-ups, and bad input (a 4xx envelope,
nothing written)."""

import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.roles import DEPOSIT_REVIEWER
from payments.models import BankDeposit, MobileMoneyPayment
from payments.services import deposit_approve
from tests.factories import UserFactory, ledger_rows
from wallet.models import Deposit, LimitUsage

pytestmark = pytest.mark.django_db

URL = "/api/wallet/deposits"
MOMO = {
    "currency": "UGX",
    "amount": "50000",
    "method": "mobile_money",
    "payment_details": {"phone_number": "+256770000001"},
}
BANK = {"currency": "USD", "amount": "250.00", "method": "bank_deposit", "payment_details": {}}


def written():
    return (
        ledger_rows(),
        Deposit.objects.count(),
        MobileMoneyPayment.objects.count(),
        BankDeposit.objects.count(),
        LimitUsage.objects.count(),
    )


def test_a_mobile_money_top_up_starts_pending(api, user, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # no Relworx here: nothing is submitted
    r = api.post(URL, MOMO, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["status"] == "pending"
    assert body["method"] == "mobile_money" and body["currency"] == "UGX"
    assert (body["amount"], body["fee_amount"], body["net_amount"]) == ("50000", "1250", "48750")
    assert body["fee_rate"] == "0.025"
    assert body["reference_code"] is None
    assert body["payment_details"]["phone_number"].endswith("001")
    assert "770000001" not in str(body)
    payment = MobileMoneyPayment.objects.get(top_up__public_id=body["id"])
    assert (payment.amount, payment.direction, payment.trade_id) == (
        Decimal("50000"),
        "collection",
        None,
    )


def test_a_bank_top_up_has_a_reference_code_and_the_bank_details(api, user):
    r = api.post(URL, BANK, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    code = body["reference_code"]
    assert code and code.startswith("DTX-")
    assert body["instructions"]["bank"]["account_number"]
    assert (body["fee_amount"], body["net_amount"]) == ("3.75", "246.25")
    bank = BankDeposit.objects.get(reference_code=code)
    assert bank.top_up.public_id == uuid.UUID(body["id"]) and bank.trade_id is None
    assert bank.expected_amount == Decimal("250.00") and bank.currency == "USD"


def test_the_list_and_the_detail_are_the_owners_only(api, user):
    mine = api.post(URL, BANK, format="json").json()
    other = APIClient()
    other.force_authenticate(UserFactory())
    theirs = other.post(URL, BANK, format="json").json()
    listed = api.get(URL, {"limit": 50}).json()["deposits"]
    assert [d["id"] for d in listed] == [mine["id"]]
    assert api.get(f"{URL}/{mine['id']}").json() == listed[0]
    for bad in (theirs["id"], str(uuid.uuid4()), "not-a-uuid"):
        r = api.get(f"{URL}/{bad}")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"


def test_the_list_filters_by_status_and_limits(api, user):
    for _ in range(3):
        api.post(URL, BANK, format="json")
    assert len(api.get(URL, {"limit": 2}).json()["deposits"]) == 2
    assert api.get(URL, {"status": "completed"}).json()["deposits"] == []
    r = api.get(URL, {"limit": 0})
    assert r.status_code == 400


def test_the_same_idempotency_key_replays_and_another_body_is_409(api, user):
    first = api.post(URL, BANK, format="json", HTTP_IDEMPOTENCY_KEY="topup-1")
    again = api.post(URL, BANK, format="json", HTTP_IDEMPOTENCY_KEY="topup-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Deposit.objects.count() == 1
    before = written()
    r = api.post(URL, {**BANK, "amount": "300.00"}, format="json", HTTP_IDEMPOTENCY_KEY="topup-1")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert written() == before


def test_a_bank_top_up_approved_credits_the_amount_received_less_the_fee(api, user):
    from ledger.selectors import balance_get

    body = api.post(URL, {**BANK, "currency": "UGX", "amount": "1000000"}, format="json").json()
    bank = BankDeposit.objects.get(reference_code=body["reference_code"])
    reviewer = UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)
    deposit_approve(deposit_id=bank.pk, reviewer=reviewer, amount_received=Decimal("1200000"))
    done = api.get(f"{URL}/{body['id']}").json()
    assert done["status"] == "completed"
    assert (done["amount_received"], done["fee_amount"], done["net_amount"]) == (
        "1200000",
        "18000",
        "1182000",
    )
    assert balance_get(user=user, currency="UGX") == Decimal("1182000")
    # Approving again is refused; the money moved once.
    from payments.errors import DepositAlreadyDecided

    with pytest.raises(DepositAlreadyDecided):
        deposit_approve(deposit_id=bank.pk, reviewer=reviewer, amount_received=Decimal("1"))
    assert balance_get(user=user, currency="UGX") == Decimal("1182000")


def test_a_bank_top_up_rejected_fails_and_nothing_moves(api, user):
    from payments.services import deposit_reject

    body = api.post(URL, BANK, format="json").json()
    bank = BankDeposit.objects.get(reference_code=body["reference_code"])
    before = ledger_rows()
    reviewer = UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)
    deposit_reject(deposit_id=bank.pk, reviewer=reviewer, reason="No such transfer")
    done = api.get(f"{URL}/{body['id']}").json()
    assert done["status"] == "failed" and "No such transfer" in done["failure_reason"]
    assert ledger_rows() == before
    assert LimitUsage.objects.get(reference=f"top_up:{body['id']}").released_at


def test_nobody_approves_their_own_top_up(user):
    from dtexchange.four_eyes import OwnMoneyRefused
    from wallet.services import top_up_start

    reviewer = UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)
    deposit = top_up_start(
        user=reviewer, currency="UGX", amount=Decimal("100000"), method="bank_deposit"
    )
    with pytest.raises(OwnMoneyRefused):
        deposit_approve(
            deposit_id=deposit.bank_deposit.pk,
            reviewer=reviewer,
            amount_received=Decimal("100000"),
        )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({**MOMO, "amount": "0"}, 400, "invalid_amount"),
        ({**MOMO, "amount": "-5"}, 400, "invalid_input"),
        ({**MOMO, "amount": 5000}, 400, "invalid_input"),
        ({**MOMO, "amount": "5000.5"}, 400, "too_many_decimals"),
        ({**BANK, "amount": "10.001"}, 400, "too_many_decimals"),
        ({**MOMO, "amount": "100"}, 400, "amount_below_minimum"),
        ({**MOMO, "amount": "5000001"}, 400, "amount_above_maximum"),
        ({**MOMO, "currency": "USD", "amount": "50"}, 400, "currency_not_supported"),
        ({**MOMO, "currency": "BTC"}, 400, "unknown_currency"),
        ({**MOMO, "method": "voucher"}, 400, "unknown_payment_method"),
        ({**MOMO, "payment_details": {"phone_number": "0700"}}, 400, "invalid_phone_number"),
        (
            {**MOMO, "payment_details": {"phone_number": "+254712345678"}},
            400,
            "invalid_phone_number",
        ),
        ({**MOMO, "payment_details": {}}, 400, "invalid_phone_number"),
        ({**MOMO, "extra": 1}, 400, "invalid_input"),
        ({"currency": "UGX", "method": "mobile_money"}, 400, "invalid_input"),
    ],
)
def test_bad_input_is_a_4xx_envelope_and_writes_nothing(api, user, body, status, code):
    before = written()
    r = api.post(URL, body, format="json")
    assert r.status_code == status, r.json()
    assert r.json()["error"]["code"] == code, r.json()
    assert written() == before


def test_a_bad_idempotency_key_is_400(api, user):
    before = written()
    r = api.post(URL, BANK, format="json", HTTP_IDEMPOTENCY_KEY="x" * 129)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_idempotency_key"
    assert written() == before


def test_an_unverified_or_anonymous_user_tops_up_nothing(user):
    before = written()
    anon = APIClient()
    assert anon.post(URL, BANK, format="json").status_code == 401
    assert anon.get(URL).status_code == 401
    unverified = APIClient()
    unverified.force_authenticate(UserFactory(email_verified_at=None))
    r = unverified.post(URL, BANK, format="json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "email_not_verified"
    assert written() == before


def test_mobile_money_down_is_409_and_writes_nothing(api, user):
    from payments.services.relworx_health import relworx_refused_report

    relworx_refused_report(detail="HTTP 403: no authorized IP")  # what the client reports
    before = written()
    r = api.post(URL, MOMO, format="json")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "payment_method_unavailable"
    assert written() == before
