"""GET /api/auth/me/export and POST /api/auth/me/erase (and the admin action):
what the export holds, when closing is refused, what erasure removes, the
ledger still reconciling, and the same address registering again."""

import threading
from decimal import Decimal

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import EmailOTPDevice, KnownDevice, RegistrationAttempt, User
from accounts.roles import ADMIN
from accounts.services import token_obtain, user_erase
from audit.models import AuditEvent
from audit.services import audit_record
from ledger.models import AccountKind, LedgerAccount
from ledger.selectors import balance_get, ledger_reconcile
from ledger.services import house_account, ledger_post
from payments.models import MobileMoneyPayment
from payments.phone import msisdn_parse
from payments.services import mobile_money_apply_status, mobile_money_payment_create
from tests.factories import DEFAULT_PASSWORD, UserFactory, fund_reserves, fund_wallet, set_prices
from tests.staff import staff_sign_in
from trading.services import trade_buy, trade_sell

pytestmark = pytest.mark.django_db
EXPORT, ERASE = "/api/auth/me/export", "/api/auth/me/erase"


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


def _signed_in(user) -> APIClient:
    api = APIClient()
    tokens = token_obtain(email=user.email, password=DEFAULT_PASSWORD)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return api


def _payment(user, status: str):
    with transaction.atomic():
        payment = mobile_money_payment_create(
            direction="collection",
            user=user,
            msisdn=msisdn_parse(value="+256770000005"),
            amount=Decimal("5000"),
            currency="UGX",
            submit=False,
        )
    mobile_money_apply_status(
        payment_id=payment.pk,
        status=status,
        amount=Decimal("5000"),
        currency="UGX",
        internal_reference=f"rw-{payment.reference}",
        raw={"msisdn": "+256770000005", "status": status},
        source="poll",
    )
    return MobileMoneyPayment.objects.get(pk=payment.pk)


def _trade_round_trip(user):
    """Buy BTC with USD, sell it all back: wallets end at zero (or dust)."""
    fund_wallet(user, "USD", "100.00")
    buy = trade_buy(
        user=user,
        crypto_currency="BTC",
        fiat_currency="USD",
        amount=Decimal("100.00"),
        payment_method="balance",
        payment_details={},
    )
    trade_sell(
        user=user,
        crypto_currency="BTC",
        fiat_currency="USD",
        amount=buy.crypto_amount,
        payment_method="balance",
        payment_details={},
    )


def _withdraw_everything(user):
    """What a payout does to the ledger: the wallet's money leaves to the outside."""
    for wallet in LedgerAccount.objects.filter(owner=user).exclude(balance=0):
        ledger_post(
            kind="payout",
            idempotency_key=f"test-payout:{wallet.pk}",
            entries=[
                (wallet, -wallet.balance),
                (house_account(kind=AccountKind.EQUITY, currency=wallet.currency), wallet.balance),
            ],
            actor="test",
        )


def test_the_export_holds_everything_about_the_user(market):
    user = UserFactory(full_name="Ada Lovelace")
    other = UserFactory()
    _trade_round_trip(user)
    _payment(user, "failed")
    audit_record(action="test.about_user", actor_label="tests", subject=user)
    audit_record(action="test.about_other", actor_label="tests", subject=other)
    api = _signed_in(user)
    response = api.get(EXPORT)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = response.json()
    assert data["profile"]["email"] == user.email and data["profile"]["full_name"] == "Ada Lovelace"
    assert [t["trade_type"] for t in data["trades"]] == ["buy", "sell"]
    assert data["payments"]["mobile_money"][0]["phone_number"] == "+256770000005"
    assert data["ledger"]["movements"] and "USD" in data["ledger"]["balances"]
    assert len(data["sign_ins"]) == 1
    assert [e["action"] for e in data["audit_events"]] == ["test.about_user"]
    assert "10 years" in data["retention"]["statement"]
    assert data["vouchers_redeemed"] == []
    # Only one's own: there is no parameter naming another user.
    assert APIClient().get(EXPORT).status_code == 401


def test_the_export_holds_no_one_elses_audit_events_or_addresses():
    """A staff member's export: what staff did to others is about those
    people (their accounts, the staff's address then) and stays out; of the
    events about the staff member, an address shows only when they acted."""
    staff = UserFactory(is_staff=True)
    customer = UserFactory()
    admin = UserFactory(is_staff=True)
    audit_record(
        action="user.access_change", actor=staff, subject=customer, data={"tier": 2}, ip="10.0.0.7"
    )
    audit_record(action="admin.sign_in", actor=staff, subject=staff, ip="10.0.0.7")
    audit_record(action="user.password_set", actor=admin, subject=staff, ip="10.0.0.9")
    audit_record(
        action="admin.sign_in_failed", actor_label="anonymous", subject=staff, ip="203.0.113.5"
    )

    events = _signed_in(staff).get(EXPORT).json()["audit_events"]
    assert [(e["action"], e["ip"], e["by_you"]) for e in events] == [
        ("admin.sign_in", "10.0.0.7", True),
        ("user.password_set", "", False),
        ("admin.sign_in_failed", "", False),
    ]
    assert "10.0.0.9" not in str(events) and "203.0.113.5" not in str(events)
    theirs = _signed_in(customer).get(EXPORT).json()["audit_events"]
    assert [(e["action"], e["ip"], e["by_you"]) for e in theirs] == [
        ("user.access_change", "", False)
    ]


def test_erasure_is_refused_while_money_or_anything_is_in_flight(market):
    user = UserFactory()
    fund_wallet(user, "USD", "20.00")
    api = _signed_in(user)
    response = api.post(ERASE, {"password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "erasure_blocked"
    codes = [b["code"] for b in response.json()["error"]["details"]["blockers"]]
    assert codes == ["balance_not_zero"]
    pending = UserFactory()
    with transaction.atomic():
        mobile_money_payment_create(
            direction="collection",
            user=pending,
            msisdn=msisdn_parse(value="+256770000005"),
            amount=Decimal("5000"),
            currency="UGX",
            submit=False,
        )
    response = _signed_in(pending).post(ERASE, {"password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 409
    assert "payment_in_flight" in str(response.json())
    assert User.objects.get(pk=user.pk).email == user.email
    assert not AuditEvent.objects.filter(action="user.erase").exists()


def test_a_wrong_password_is_a_400_and_changes_nothing():
    user = UserFactory()
    response = _signed_in(user).post(ERASE, {"password": "not-it"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_password"
    assert User.objects.get(pk=user.pk).is_active


def test_erasure_removes_personal_data_and_the_books_still_reconcile(market, client):
    user = UserFactory(full_name="Ada Lovelace", email="ada@example.test")
    _trade_round_trip(user)
    payment = _payment(user, "failed")
    client.force_login(user)  # a site session too
    EmailOTPDevice.objects.get_or_create(user=user, defaults={"name": "email"})
    api = _signed_in(user)
    _withdraw_everything(user)
    body = {"password": DEFAULT_PASSWORD}
    assert api.post(ERASE, body, format="json").status_code == 204

    erased = User.objects.get(pk=user.pk)
    assert erased.email == f"erased-{user.pk}@erased.invalid"
    assert (erased.full_name, erased.is_active, erased.has_usable_password()) == ("", False, False)
    assert not OutstandingToken.objects.filter(user=erased).exists()
    assert not EmailOTPDevice.objects.filter(user=erased).exists()
    assert not KnownDevice.objects.filter(user=erased).exists()  # the API sign-in's
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id")]
    payment.refresh_from_db()
    assert payment.msisdn == "" and "msisdn" not in payment.last_status_raw
    assert erased.trades.count() == 2  # the records stay
    assert api.get(EXPORT).status_code == 401  # the token no longer works
    assert ledger_reconcile().ok
    call_command("reconcile_ledger")
    (event,) = AuditEvent.objects.filter(action="user.erase")
    assert (event.actor, event.subject) == (erased, erased)
    assert "ada@example.test" not in str(event.data)
    # The same address can sign up again, as a new account.
    again = APIClient().post(
        "/api/auth/register",
        {"email": "ada@example.test", "password": "An0ther-good-pass"},
        format="json",
    )
    assert again.status_code == 202
    assert User.objects.get(email="ada@example.test").pk != user.pk


def test_erasure_removes_the_sign_ins_devices_and_pending_sign_ups(settings):
    """An unverified account signed up twice (two passwords kept, waiting for
    the code) and signed in from an API client and a browser: erasing it
    leaves none of those rows (user agents, password hashes)."""
    from accounts.services import user_register

    settings.OTP_RESEND_INTERVAL = settings.OTP_RESEND_INTERVAL * 0
    user_register(email="twice@example.test", password=DEFAULT_PASSWORD)
    user_register(email="twice@example.test", password="Second-pass-2026")
    user = User.objects.get(email="twice@example.test")
    token_obtain(email=user.email, password=DEFAULT_PASSWORD, device="curl/8.5 on a laptop")
    browser = Client(HTTP_USER_AGENT="Firefox on the victim's phone")
    assert (
        browser.post("/login/", {"username": user.email, "password": DEFAULT_PASSWORD}).status_code
        == 302
    )
    assert KnownDevice.objects.filter(user=user).count() == 2
    assert RegistrationAttempt.objects.filter(user=user).count() == 2

    user_erase(user=user, password=DEFAULT_PASSWORD)
    assert not KnownDevice.objects.filter(user=user).exists()
    assert not RegistrationAttempt.objects.filter(user=user).exists()
    event = AuditEvent.objects.get(action="user.erase")
    assert event.data["accounts"]["known_devices"] == 2
    assert event.data["accounts"]["sign_ups"] == 2


def test_a_small_balance_needs_an_explicit_give_up():
    user = UserFactory()
    fund_wallet(user, "UGX", "300")
    api = _signed_in(user)
    refused = api.post(ERASE, {"password": DEFAULT_PASSWORD}, format="json")
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["blockers"][0]["code"] == "small_balance"
    done = api.post(
        ERASE, {"password": DEFAULT_PASSWORD, "give_up_small_balances": True}, format="json"
    )
    assert done.status_code == 204
    assert balance_get(user=user, currency="UGX") == 0
    event = AuditEvent.objects.get(action="user.erase")
    assert event.data["ledger"] == {"small_balances_given_up": {"UGX": "300"}}
    assert ledger_reconcile().ok


def test_staff_erase_from_the_admin(client):
    admin_user = UserFactory(roles=[ADMIN], is_staff=True, is_superuser=True)
    person = UserFactory()
    staff_sign_in(client, admin_user)
    response = client.post(
        "/admin/accounts/user/",
        {"action": "erase_personal_data", "_selected_action": [person.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert User.objects.get(pk=person.pk).email.endswith("@erased.invalid")
    event = AuditEvent.objects.get(action="user.erase")
    assert (event.actor, event.subject, event.data["by"]) == (admin_user, person, "staff")


@pytest.mark.django_db(transaction=True)
def test_two_erasures_at_once_erase_once_and_the_other_gets_409():
    user = UserFactory()
    start = threading.Barrier(2)
    results = []

    def erase():
        try:
            start.wait()
            user_erase(user=User.objects.get(pk=user.pk), password=DEFAULT_PASSWORD)
            results.append("erased")
        except Exception as exc:  # collected and asserted below
            results.append(getattr(exc, "code", repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=erase) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["already_erased", "erased"]
    assert AuditEvent.objects.filter(action="user.erase").count() == 1
