"""Each staff action that moves or releases money or changes access writes
one audit event in its own transaction — and none when it is refused."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction

from accounts.roles import ADMIN, DEPOSIT_REVIEWER, ensure_roles
from audit.models import AuditEvent
from audit.selectors import audit_chain_verify
from dtexchange.errors import DomainError
from ledger.models import LedgerTransaction
from ledger.services import ledger_reverse, reserve_fund
from payments.models import BankDeposit, MobileMoneyPayment
from payments.phone import msisdn_parse
from payments.services import (
    deposit_approve,
    deposit_reject,
    mobile_money_apply_status,
    mobile_money_flag_resolve,
    mobile_money_payment_create,
)
from tests.factories import DEFAULT_PASSWORD, UserFactory, fund_reserves, set_prices
from tests.staff import staff_device, staff_sign_in, totp_code
from trading.services import trade_buy
from vouchers.models import Voucher, VoucherBatch
from vouchers.services import voucher_batch_create, voucher_void

pytestmark = pytest.mark.django_db


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


@pytest.fixture
def reviewer():
    return UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)


@pytest.fixture
def admin_user():
    return UserFactory(roles=[ADMIN], is_staff=True)


def _deposit(customer) -> BankDeposit:
    trade = trade_buy(
        user=customer,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=Decimal("1000000"),
        payment_method="bank_deposit",
        payment_details={},
    )
    return BankDeposit.objects.get(trade=trade)


def test_deposit_decisions_are_audited_with_the_reviewer_and_the_customer(market, reviewer):
    customer = UserFactory()
    approved, rejected = _deposit(customer), _deposit(customer)
    deposit_approve(deposit_id=approved.pk, reviewer=reviewer, amount_received=Decimal("990000"))
    deposit_reject(deposit_id=rejected.pk, reviewer=reviewer, reason="no such transfer")

    (approve,) = events("deposit.approve")
    assert (approve.actor, approve.subject) == (reviewer, customer)
    assert (approve.object_type, approve.object_id) == ("payments.bankdeposit", str(approved.pk))
    assert approve.before == {"status": "pending"}
    assert approve.after == {"status": "approved", "amount_received": "990000"}
    assert approve.data["reference_code"] == approved.reference_code
    (reject,) = events("deposit.reject")
    assert reject.after == {"status": "rejected"} and reject.data["reason"] == "no such transfer"
    assert audit_chain_verify().ok


def test_a_refused_decision_writes_no_event(market, reviewer):
    deposit = _deposit(UserFactory())
    deposit_reject(deposit_id=deposit.pk, reviewer=reviewer, reason="no such transfer")
    count = AuditEvent.objects.count()
    with pytest.raises(DomainError):
        deposit_approve(deposit_id=deposit.pk, reviewer=reviewer, amount_received=Decimal("1"))
    with pytest.raises(DomainError):
        deposit_reject(deposit_id=deposit.pk, reviewer=UserFactory(), reason="x")
    assert AuditEvent.objects.count() == count


def test_a_flagged_payment_resolution_is_audited(market, reviewer):
    customer = UserFactory()
    with transaction.atomic():
        payment = mobile_money_payment_create(
            direction="collection",
            user=customer,
            msisdn=msisdn_parse(value="+256770000005"),
            amount=Decimal("5000"),
            currency="UGX",
            submit=False,
        )
    mobile_money_apply_status(
        payment_id=payment.pk,
        status="success",
        amount=Decimal("4900"),
        currency="UGX",
        internal_reference=f"rw-{payment.reference}",
        raw={},
        source="poll",
    )
    resolution = mobile_money_flag_resolve(
        payment_id=payment.pk,
        actor=reviewer,
        outcome="credited",
        note="Relworx statement shows 4,900",
        amount=Decimal("4900"),
    )
    (event,) = events("payment.flag_resolve")
    assert (event.actor, event.subject) == (reviewer, customer)
    assert event.object_type == "payments.mobilemoneypayment"
    assert event.before["status"] == MobileMoneyPayment.Status.PENDING
    assert event.before["resolved_at"] is None and event.before["flag_reason"]
    assert event.after["outcome"] == "credited" and event.after["amount_credited"] == "4900"
    assert event.after["status"] == "succeeded" and event.after["resolved_at"]
    assert event.data["resolution_id"] == resolution.pk
    assert event.data["note"] == "Relworx statement shows 4,900"


def test_voucher_batches_and_voids_are_audited(admin_user):
    issued = voucher_batch_create(
        count=3,
        amount=Decimal("50000"),
        currency="UGX",
        expires_in_days=30,
        actor=admin_user,
        note="Kampala agents",
    )
    by_command = voucher_batch_create(
        count=1, amount=Decimal("25"), currency="USD", expires_in_days=30, actor="command:x"
    )
    batch = VoucherBatch.objects.get(pk=issued[0][0].batch_id)
    first, second = events("voucher.batch_issue")
    assert (first.actor, first.object_id) == (admin_user, str(batch.pk))
    assert first.after["total"] == "150000" and first.after["count"] == 3
    assert first.data == {"note": "Kampala agents"}
    assert (second.actor, second.actor_label) == (None, "command:x")
    assert second.object_id == str(by_command[0][0].batch_id)
    # No code, plain or hashed, is in the trail.
    plain = [code for _voucher, code in issued]
    text = str([(e.before, e.after, e.data) for e in AuditEvent.objects.all()])
    assert not any(code in text or code.replace("-", "") in text for code in plain)

    voucher = issued[0][0]
    voucher_void(voucher_id=voucher.pk, actor=admin_user, reason="lost by the agent")
    (void,) = events("voucher.void")
    assert (void.actor, void.object_type, void.object_id) == (
        admin_user,
        "vouchers.voucher",
        str(voucher.pk),
    )
    assert (void.before, void.after) == ({"status": "active"}, {"status": "void"})
    assert void.data["reason"] == "lost by the agent" and void.data["amount"] == "50000"
    with pytest.raises(DomainError):
        voucher_void(voucher_id=voucher.pk, actor=admin_user, reason="again")
    assert len(events("voucher.void")) == 1
    assert Voucher.objects.get(pk=voucher.pk).status == "void"


def test_reserve_funding_and_reversals_are_audited_once():
    txn = reserve_fund(
        currency="BTC", amount=Decimal("2.5"), actor="command:fund_reserve"
    ).transaction
    (fund,) = events("reserve.fund")
    assert fund.actor_label == "command:fund_reserve"
    assert (fund.object_type, fund.object_id) == ("ledger.ledgertransaction", str(txn.pk))
    assert fund.after == {"currency": "BTC", "amount": "2.5"}
    # A replayed funding (same key) moved nothing and is not an action.
    reserve_fund(currency="BTC", amount=Decimal("1"), actor="t", idempotency_key="k-1")
    reserve_fund(currency="BTC", amount=Decimal("1"), actor="t", idempotency_key="k-1")
    assert len(events("reserve.fund")) == 2

    call_command("ledger_reverse", str(txn.pk), reason="funded twice", actor="staff:7")
    reversal = LedgerTransaction.objects.get(kind="reversal")
    (event,) = events("ledger.reverse")
    assert (event.actor_label, event.object_id) == ("staff:7", str(reversal.pk))
    assert event.data["reversed_transaction_id"] == txn.pk
    assert event.data["reason"] == "funded twice"
    ledger_reverse(transaction_id=txn.pk, actor="staff:7", reason="again")  # replay
    assert len(events("ledger.reverse")) == 1


def _admin_login(client, user):
    staff_sign_in(client, user)


def test_role_and_staff_changes_in_the_admin_are_audited(client):
    ensure_roles()
    admin_user = UserFactory(roles=[ADMIN], is_staff=True, is_superuser=True)
    person = UserFactory(email="person@example.test")
    _admin_login(client, admin_user)
    url = f"/admin/accounts/user/{person.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = {
        "email": person.email,
        "full_name": person.full_name,
        "is_active": "on",
        "is_staff": "on",
        "groups": [Group.objects.get(name=DEPOSIT_REVIEWER).pk],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = client.post(url, form, REMOTE_ADDR="10.1.2.3", HTTP_X_REQUEST_ID="req-role-1")
    assert response.status_code == 302, response.content[:2000]
    (event,) = events("user.access_change")
    assert (event.actor, event.subject) == (admin_user, person)
    assert event.before == {
        "is_active": True,
        "is_staff": False,
        "is_superuser": False,
        "roles": ["customer"],
    }
    assert event.after == {
        "is_active": True,
        "is_staff": True,
        "is_superuser": False,
        "roles": ["deposit_reviewer"],
    }
    assert (event.ip, event.request_id) == ("10.1.2.3", "req-role-1")

    # Saving again without a change of access records nothing more.
    client.post(url, {**form, "full_name": "Another Name"})
    assert len(events("user.access_change")) == 1

    response = client.post(
        f"/admin/accounts/user/{person.pk}/password/",
        {"password1": "N3w-pass-phrase!", "password2": "N3w-pass-phrase!"},
    )
    assert response.status_code == 302
    (password,) = events("user.password_set")
    assert (password.actor, password.subject) == (admin_user, person)


def test_admin_sign_ins_and_failures_are_audited(client):
    staff = UserFactory(roles=[ADMIN], is_staff=True, email="staff@example.test")
    response = client.post(
        "/admin/login/",
        {"username": "staff@example.test", "password": "wrong", "next": "/admin/"},
        REMOTE_ADDR="10.9.9.9",
    )
    assert response.status_code == 200  # the form again, with its error
    (failed,) = events("admin.sign_in_failed")
    assert (failed.actor, failed.actor_label, failed.subject) == (None, "anonymous", staff)
    assert failed.ip == "10.9.9.9"
    assert re.fullmatch(r"[0-9a-f]{16}", failed.data["email_ref"])
    assert "staff@example.test" not in str(failed.data)

    client.post(
        "/admin/login/",
        {"username": "nobody@example.test", "password": "x", "next": "/admin/"},
    )
    assert events("admin.sign_in_failed")[1].subject is None

    staff_sign_in(client, staff)
    (signed_in,) = events("admin.sign_in")
    assert (signed_in.actor, signed_in.subject) == (staff, staff)
    client.logout()
    # The right password with a wrong code from the authenticator app.
    device = staff_device(staff)
    wrong = f"{(int(totp_code(device)) + 1) % 1000000:06d}"
    response = client.post(
        "/admin/login/",
        {"username": "staff@example.test", "password": DEFAULT_PASSWORD, "otp_token": wrong},
    )
    assert response.status_code == 200
    bad_code = events("admin.sign_in_failed")[2]
    assert (bad_code.subject, bad_code.data["reason"]) == (staff, "bad_code")
    assert events("admin.sign_in_failed")[0].data["reason"] == "password"

    # Sign-ins to the customer site or the API are not staff sign-ins.
    client.logout()
    client.post("/api/auth/token", {"email": "staff@example.test", "password": "wrong"})
    assert len(events("admin.sign_in_failed")) == 3
    assert audit_chain_verify().ok
