"""POST/GET /api/wallet/withdrawals, confirm and cancel: what a user and the
ledger see, and bad input answered in the envelope with nothing moved."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from ledger.selectors import balance_get
from notifications.models import OutboxEvent
from tests.factories import UserFactory, emailed_code, fund_wallet, ledger_rows
from tests.wallet.helpers import (
    BANK,
    PHONE,
    api_for,
    assert_reconciles,
    balance,
    hold_balance,
    postings,
    withdraw,
)
from wallet.models import PayoutNumber, Withdrawal
from wallet.services import withdrawals_expire_due

D = Decimal
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def user():
    u = UserFactory()
    fund_wallet(u, "UGX", "1000000")
    fund_wallet(u, "USD", "1000.00")
    return u


@pytest.fixture
def api(user):
    return api_for(user)


def test_a_withdrawal_takes_the_money_at_once_and_says_what_arrives(relworx, user, api):
    r = withdraw(api, amount="100000")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["status"] == "awaiting_confirmation"
    assert (body["currency"], body["amount"], body["fee_amount"], body["net_amount"]) == (
        "UGX",
        "100000",
        "1000",
        "99000",
    )
    assert body["method"] == "mobile_money" and body["second_factor"] == "email"
    assert body["destination"]["phone_number"] == "+25677*** ***001"  # masked
    assert PHONE not in r.content.decode()
    assert body["destination"]["holder_name"] is None  # validate names Airtel numbers only
    assert body["confirm_by"] and body["created_at"]
    assert balance(user) == D("900000")
    assert hold_balance() == D("100000")
    assert len(emailed_code(user.email)) == 6
    (event,) = OutboxEvent.objects.filter(kind="withdrawal.updated")
    assert event.user_id == user.pk and event.payload["status"] == "awaiting_confirmation"
    assert_reconciles()


def test_an_airtel_holder_is_named_before_confirming(relworx, api):
    r = withdraw(api, phone_number="0700 000 001")
    assert r.status_code == 201
    assert r.json()["destination"]["holder_name"] == "SANDBOX CUSTOMER 0001"


def test_list_and_detail_and_someone_elses_is_404(relworx, user, api):
    first = withdraw(api, amount="10000").json()
    second = withdraw(api, method="bank", amount="20000").json()
    r = api.get("/api/wallet/withdrawals")
    assert r.status_code == 200
    assert [w["id"] for w in r.json()["withdrawals"]] == [second["id"], first["id"]]
    assert [w["id"] for w in api.get("/api/wallet/withdrawals?limit=1").json()["withdrawals"]] == [
        second["id"]
    ]
    assert api.get(f"/api/wallet/withdrawals/{first['id']}").json() == first
    stranger = api_for(UserFactory())
    for path in (
        f"/api/wallet/withdrawals/{first['id']}",
        f"/api/wallet/withdrawals/{first['id']}/cancel",
        f"/api/wallet/withdrawals/{first['id']}/confirm",
    ):
        call = stranger.get if not path.endswith(("cancel", "confirm")) else stranger.post
        r = call(path, {"code": "123456"}, format="json") if "confirm" in path else call(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "withdrawal_not_found"
    assert stranger.get("/api/wallet/withdrawals").json()["withdrawals"] == []
    assert api.get("/api/wallet/withdrawals?limit=0").status_code == 400


def test_the_emailed_code_confirms_and_the_payout_is_requested(relworx, user, api):
    w = withdraw(api).json()
    r = api.post(
        f"/api/wallet/withdrawals/{w['id']}/confirm",
        {"code": emailed_code(user.email)},
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "processing"
    withdrawal = Withdrawal.objects.get(public_id=w["id"])
    assert withdrawal.payout_reference.startswith("DTXP")
    # The new number was confirmed by the withdrawal's code.
    assert withdrawal.payout_number.status == PayoutNumber.Status.CONFIRMED
    sends = [h for h in relworx.hits if h[1].endswith("send-payment")]
    assert len(sends) == 1
    # Confirming twice is refused and changes nothing.
    again = api.post(f"/api/wallet/withdrawals/{w['id']}/confirm", {"code": "123456"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_awaiting_confirmation"
    # Cancelling while processing is refused.
    r = api.post(f"/api/wallet/withdrawals/{w['id']}/cancel")
    assert r.status_code == 409 and r.json()["error"]["code"] == "withdrawal_not_cancellable"
    assert balance(user) == D("900000")


def test_cancel_before_confirming_gives_the_money_back_once(relworx, user, api):
    w = withdraw(api).json()
    r = api.post(f"/api/wallet/withdrawals/{w['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert balance(user) == D("1000000") and hold_balance() == 0
    again = api.post(f"/api/wallet/withdrawals/{w['id']}/cancel")
    assert again.status_code == 409
    assert postings(w["id"], "return") == 1
    assert_reconciles()


def test_confirming_after_the_time_is_up_expires_it(relworx, user, api):
    w = withdraw(api).json()
    code = emailed_code(user.email)
    Withdrawal.objects.filter(public_id=w["id"]).update(
        confirm_by=timezone.now() - timedelta(seconds=1)
    )
    r = api.post(f"/api/wallet/withdrawals/{w['id']}/confirm", {"code": code}, format="json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "confirmation_expired"
    assert api.get(f"/api/wallet/withdrawals/{w['id']}").json()["status"] == "expired"
    assert balance(user) == D("1000000")
    assert not [h for h in relworx.hits if h[1].endswith("send-payment")]


def test_the_beat_task_expires_unconfirmed_withdrawals(relworx, user, api):
    late = withdraw(api, amount="10000").json()
    fresh = withdraw(api, amount="20000").json()
    Withdrawal.objects.filter(public_id=late["id"]).update(
        confirm_by=timezone.now() - timedelta(minutes=1)
    )
    assert withdrawals_expire_due() == 1
    assert withdrawals_expire_due() == 0  # safe to run twice
    assert Withdrawal.objects.get(public_id=late["id"]).status == "expired"
    assert Withdrawal.objects.get(public_id=fresh["id"]).status == "awaiting_confirmation"
    assert balance(user) == D("980000")
    assert postings(late["id"], "return") == 1
    assert_reconciles()


def test_the_same_idempotency_key_replays_and_another_body_is_409(relworx, user, api):
    first = withdraw(api, key="wd-1")
    again = withdraw(api, key="wd-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert balance(user) == D("900000")
    other = withdraw(api, key="wd-1", amount="5000")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Withdrawal.objects.count() == 1 and balance(user) == D("900000")


def test_a_password_change_holds_withdrawals_back_a_day(relworx, user, api, settings):
    user.set_password("a-new-password-123")
    user.save()
    r = withdraw(api)
    assert r.status_code == 409 and r.json()["error"]["code"] == "security_cooldown"
    assert "until" in r.json()["error"]["details"]
    assert Withdrawal.objects.count() == 0 and balance(user) == D("1000000")
    type(user).objects.filter(pk=user.pk).update(
        password_changed_at=timezone.now() - settings.WITHDRAWAL_COOLDOWN_AFTER_SECURITY_CHANGE
    )
    user.refresh_from_db()
    assert withdraw(api).status_code == 201


def test_an_unverified_user_cannot_withdraw(relworx):
    user = UserFactory(email_verified_at=None)
    r = withdraw(api_for(user))
    assert r.status_code == 403 and r.json()["error"]["code"] == "email_not_verified"


def test_a_bank_withdrawal_in_usd_waits_for_staff_after_confirming(user, api):
    r = withdraw(api, method="bank", currency="USD", amount="100.00")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["destination"] == {
        "bank_name": "Stanbic Bank",
        "account_name": "Ada Lovelace",
        "account_number": "*********5678",
    }
    assert (body["fee_amount"], body["net_amount"]) == ("0.50", "99.50")
    assert BANK["account_number"] not in r.content.decode()
    r = api.post(
        f"/api/wallet/withdrawals/{body['id']}/confirm",
        {"code": emailed_code(user.email)},
        format="json",
    )
    assert r.status_code == 200 and r.json()["status"] == "processing"
    assert balance_get(user=user, currency="USD") == D("900.00")


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": "0"}, 400, "invalid_amount"),
        ({"amount": "-5"}, 400, "invalid_input"),
        ({"amount": 5000}, 400, "invalid_input"),
        ({"amount": "5000.5"}, 400, "too_many_decimals"),
        ({"amount": "400"}, 400, "amount_below_minimum"),
        ({"amount": "6000000"}, 400, "amount_above_maximum"),
        ({"amount": "1500000"}, 409, "insufficient_balance"),
        ({"currency": "USD", "amount": "10.00"}, 400, "currency_not_supported"),
        ({"currency": "BTC"}, 400, "currency_not_supported"),
        ({"method": "crypto"}, 400, "method_not_supported"),
        ({"destination": {"phone_number": "+256711234567"}}, 400, "unsupported_network"),
        ({"destination": {"phone_number": "+254712345678"}}, 400, "invalid_phone_number"),
        ({"destination": {"phone_number": "call me"}}, 400, "invalid_phone_number"),
        ({"destination": {}}, 400, "invalid_phone_number"),
        ({"destination": {"phone_number": PHONE, "iban": "x"}}, 400, "invalid_input"),
        ({"method": "bank", "destination": {"bank_name": "X"}}, 400, "invalid_input"),
        (
            {"method": "bank", "destination": {**BANK, "account_number": "12"}},
            400,
            "invalid_input",
        ),
        ({"extra": "field"}, 400, "invalid_input"),
    ],
)
def test_bad_input_is_refused_and_nothing_moves(relworx, user, api, change, status, code):
    before = ledger_rows()
    body = {
        "currency": "UGX",
        "amount": "100000",
        "method": "mobile_money",
        "destination": {"phone_number": PHONE},
        **change,
    }
    r = api.post("/api/wallet/withdrawals", body, format="json")
    assert r.status_code == status, r.json()
    assert r.json()["error"]["code"] == code
    assert set(r.json()["error"]) == {"code", "message", "details"}
    assert ledger_rows() == before
    assert Withdrawal.objects.count() == 0 and PayoutNumber.objects.count() == 0
    assert balance(user) == D("1000000")
    assert not mail.outbox


def test_a_bad_idempotency_key_is_400(relworx, user, api):
    r = withdraw(api, key="bad\u00e9key")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_idempotency_key"
    assert Withdrawal.objects.count() == 0
