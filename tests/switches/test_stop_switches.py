"""Stop switches: an admin freezes an account (no trades, no payouts; the
user can still sign in and is told) or pauses a method (shown unavailable,
new trades refused with 409 naming the reason, trades in flight finish);
each step is audited and a lift takes two different admins."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.roles import ADMIN, DEPOSIT_REVIEWER
from audit.models import AuditEvent
from switches.errors import LiftNotRequested, NotAnAdmin, SamePersonRefused, SwitchNotActive
from switches.models import AccountFreeze, MethodPause
from switches.services import (
    account_freeze,
    method_pause,
    switch_lift_confirm,
    switch_lift_request,
)
from tests.factories import UserFactory, fund_reserves, fund_wallet, set_prices
from tests.staff import staff_sign_in
from trading.models import Trade

pytestmark = pytest.mark.django_db
BUY = {
    "crypto_currency": "BTC",
    "fiat_currency": "USD",
    "amount": "10.00",
    "payment_method": "balance",
}


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


@pytest.fixture
def admins():
    return (
        UserFactory(roles=[ADMIN], is_staff=True, email="first-admin@example.test"),
        UserFactory(roles=[ADMIN], is_staff=True, email="second-admin@example.test"),
    )


@pytest.fixture
def customer():
    user = UserFactory()
    fund_wallet(user, "USD", "100.00")
    return user


def _api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_frozen_account_cannot_trade_and_is_told_why(market, admins, customer):
    api = _api(customer)
    account_freeze(actor=admins[0], user=customer, reason="We are checking a report of fraud.")

    refused = api.post("/api/trading/buy", BUY)

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "account_frozen"
    assert "We are checking a report of fraud." in error["message"]
    assert not Trade.objects.filter(user=customer).exists()
    # Sign-in still works, and the dashboard says so.
    site = APIClient()
    site.force_login(customer)
    page = site.get("/dashboard/")
    assert page.status_code == 200
    assert b'id="account-frozen"' in page.content
    assert b"We are checking a report of fraud." in page.content
    # Other accounts trade as before.
    other = UserFactory()
    fund_wallet(other, "USD", "100.00")
    assert _api(other).post("/api/trading/buy", BUY).status_code == 201


def test_lifting_takes_two_admins_and_every_step_is_audited(market, admins, customer):
    first, second = admins
    freeze = account_freeze(actor=first, user=customer, reason="Checking documents.")
    with pytest.raises(LiftNotRequested):
        switch_lift_confirm(actor=second, switch=freeze)
    switch_lift_request(actor=first, switch=freeze)
    with pytest.raises(SamePersonRefused):
        switch_lift_confirm(actor=first, switch=freeze)
    assert _api(customer).post("/api/trading/buy", BUY).status_code == 409  # still frozen

    switch_lift_confirm(actor=second, switch=freeze)

    assert _api(customer).post("/api/trading/buy", BUY).status_code == 201
    with pytest.raises(SwitchNotActive):
        switch_lift_request(actor=first, switch=freeze)
    events = list(AuditEvent.objects.filter(action__startswith="account.freeze").order_by("seq"))
    assert [(e.action, e.actor_id) for e in events] == [
        ("account.freeze", first.pk),
        ("account.freeze.lift_request", first.pk),
        ("account.freeze.lift", second.pk),
    ]
    assert all(e.subject_id == customer.pk for e in events)
    assert events[-1].before["active"] is True and events[-1].after["active"] is False


def test_only_admins_throw_switches(admins, customer):
    reviewer = UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)
    with pytest.raises(NotAnAdmin):
        account_freeze(actor=reviewer, user=customer, reason="no")
    with pytest.raises(NotAnAdmin):
        method_pause(actor=customer, method="balance", direction="buy", reason="no")
    assert not AccountFreeze.objects.exists() and not MethodPause.objects.exists()


def test_a_paused_method_is_shown_unavailable_and_refuses_new_trades(market, admins, customer):
    pause = method_pause(
        actor=admins[0], method="balance", direction="buy", reason="Wallet payments are paused."
    )

    listed = {
        m["id"]: m
        for m in APIClient().get("/api/trading/payment-methods").json()["payment_methods"]
    }
    assert listed["balance"]["buy_available"] is False
    assert listed["balance"]["unavailable_reason"] == "Wallet payments are paused."
    assert listed["voucher"]["buy_available"] is True
    site = APIClient()
    site.force_login(customer)
    page = site.get("/trade/").content.decode()
    assert 'id="method-balance-unavailable"' in page and "Wallet payments are paused." in page
    refused = _api(customer).post("/api/trading/buy", BUY)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "payment_method_unavailable"
    assert "Wallet payments are paused." in refused.json()["error"]["message"]

    switch_lift_request(actor=admins[0], switch=pause)
    switch_lift_confirm(actor=admins[1], switch=pause)
    assert _api(customer).post("/api/trading/buy", BUY).status_code == 201


def test_trades_in_flight_finish_while_their_method_is_paused(market, admins, customer):
    from ledger.models import AccountKind
    from ledger.services import house_account
    from tests.factories import ExternalTestMethod
    from trading import payment_methods
    from trading.services import trade_buy, trade_settle_buy

    method = ExternalTestMethod.build()
    payment_methods.register(method)
    try:
        trade = trade_buy(
            user=customer,
            crypto_currency="BTC",
            fiat_currency="USD",
            amount=Decimal("10.00"),
            payment_method="test_external",
        )
        method_pause(actor=admins[0], method="test_external", direction="buy", reason="Paused.")
        settled = trade_settle_buy(
            trade_id=trade.pk,
            funding_account=house_account(kind=AccountKind.MOBILE_MONEY_CLEARING, currency="USD"),
            actor="provider",
        )
        assert settled.status == "completed"
    finally:
        payment_methods.unregister(method.code)


def test_bad_input_writes_nothing(admins, customer):
    from dtexchange.errors import DomainError

    for kwargs in (
        {"method": "carrier_pigeon", "direction": "buy", "reason": "x"},
        {"method": "balance", "direction": "sideways", "reason": "x"},
        {"method": "balance", "direction": "buy", "reason": "  "},
    ):
        with pytest.raises(DomainError) as refused:
            method_pause(actor=admins[0], **kwargs)
        assert refused.value.status == 400
    account_freeze(actor=admins[0], user=customer, reason="first")
    with pytest.raises(DomainError) as twice:
        account_freeze(actor=admins[1], user=customer, reason="second")
    assert twice.value.status == 409
    assert AccountFreeze.objects.count() == 1 and not MethodPause.objects.exists()


def test_the_admin_throws_and_lifts_with_two_people(client, admins, customer):
    staff_sign_in(client, admins[0])
    added = client.post(
        "/admin/switches/accountfreeze/add/", {"user": customer.pk, "reason": "Checking."}
    )
    assert added.status_code == 302
    freeze = AccountFreeze.objects.get(user=customer, lifted_at__isnull=True)
    assert freeze.created_by == admins[0]
    changelist = "/admin/switches/accountfreeze/"
    client.post(changelist, {"action": "lift_request", "_selected_action": [freeze.pk]})
    client.post(changelist, {"action": "lift_confirm", "_selected_action": [freeze.pk]})
    freeze.refresh_from_db()
    assert freeze.lift_requested_by == admins[0] and freeze.active  # the same admin: refused
    client.post("/admin/logout/")
    staff_sign_in(client, admins[1])
    client.post(changelist, {"action": "lift_confirm", "_selected_action": [freeze.pk]})
    freeze.refresh_from_db()
    assert not freeze.active and freeze.lifted_by == admins[1]


@pytest.mark.django_db(transaction=True)
def test_a_frozen_accounts_payout_waits_and_nothing_is_sent(admins, customer):
    from django.db import transaction

    from payments.phone import msisdn_parse
    from payments.services import mobile_money_payment_create, mobile_money_submit

    with transaction.atomic():
        payout = mobile_money_payment_create(
            direction="payout",
            user=customer,
            msisdn=msisdn_parse(value="+256770000005"),
            amount=Decimal("5000"),
            currency="UGX",
            submit=False,
        )
    account_freeze(actor=admins[0], user=customer, reason="Checking.")

    # No Relworx server runs here: anything sent would fail the test.
    assert mobile_money_submit(payment_id=payout.pk) == "waiting"

    payout.refresh_from_db()
    assert payout.waiting_reason == "account_frozen"
    assert (payout.status, payout.maybe_sent, payout.submit_attempts) == ("pending", False, 0)


def test_a_flushed_cache_forgets_no_switch(market, admins, customer):
    from django.core.cache import cache

    from switches.selectors import switches_forget_local

    account_freeze(actor=admins[0], user=customer, reason="Checking.")
    cache.clear()  # e.g. Redis restarted empty
    switches_forget_local()
    refused = _api(customer).post("/api/trading/buy", BUY)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "account_frozen"
