"""Top-ups by mobile money end to end: the wallet's service, payments' method,
the Relworx sandbox as a real local server and its signed webhooks over real
HTTP to the live test server; polling; a duplicate webhook racing a poll."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection

from ledger.models import AccountKind, LedgerTransaction
from ledger.selectors import balance_get
from ledger.services import house_account
from notifications.models import OutboxEvent
from payments.models import MobileMoneyPayment
from payments.services import mobile_money_poll
from tests.factories import ledger_rows
from tests.payments.conftest import wait_for
from wallet.models import Deposit, LimitUsage
from wallet.services import top_up_start, top_ups_expire

pytestmark = pytest.mark.django_db(transaction=True)


def top_up(user, number, amount="100000", **kw):
    return top_up_start(
        user=user,
        currency="UGX",
        amount=Decimal(amount),
        method="mobile_money",
        payment_details={"phone_number": number},
        **kw,
    )


def status_of(deposit, wanted=("completed", "failed", "expired")):
    d = Deposit.objects.get(pk=deposit.pk)
    return d if d.status in wanted else None


def credits(deposit):
    return LedgerTransaction.objects.filter(idempotency_key=f"top_up:{deposit.public_id}:credit")


def clearing():
    account = house_account(kind=AccountKind.MOBILE_MONEY_CLEARING, currency="UGX")
    account.refresh_from_db()
    return account.balance


def test_a_top_up_is_credited_less_the_fee_when_the_webhook_arrives(sandbox, market, user):
    deposit = top_up(user, "+256770000001")
    assert deposit.status == "pending"
    assert deposit.instructions["message"] == "Approve the prompt on your phone"
    assert deposit.payment_details == {"phone_number": "+25677*** ***001", "provider": "MTN Uganda"}
    assert deposit.fee_amount == Decimal("2500") and deposit.net_amount == Decimal("97500")
    done = wait_for(lambda: status_of(deposit))
    assert done.status == "completed"
    assert done.amount_received == Decimal("100000")
    assert balance_get(user=user, currency="UGX") == Decimal("97500")
    assert credits(done).count() == 1
    payment = MobileMoneyPayment.objects.get(top_up=done)
    assert payment.outcome == "top_up_credited"
    # The clearing account mirrors the Relworx wallet: the payment in, less Relworx's charge.
    assert clearing() == -Decimal("100000") + payment.charge
    statuses = list(
        OutboxEvent.objects.filter(kind="deposit.updated", user_id=user.pk)
        .order_by("pk")
        .values_list("payload__status", flat=True)
    )
    assert statuses == ["pending", "processing", "completed"]
    [email] = wait_for(lambda: [m for m in mail.outbox if "added to your wallet" in m.subject])
    assert email.to == [user.email]
    assert "97,500" in email.subject
    call_command("reconcile_ledger")


@pytest.mark.parametrize("number", ["+256770000002", "+256700000002"])
def test_a_failed_payment_fails_the_top_up_and_moves_no_money(sandbox, market, user, number):
    before = ledger_rows()
    deposit = top_up(user, number)
    done = wait_for(lambda: status_of(deposit))
    assert done.status == "failed"
    assert "failed" in done.failure_reason
    assert ledger_rows() == before
    # The limit it used is given back.
    assert LimitUsage.objects.get(reference=f"top_up:{deposit.public_id}").released_at


def test_polling_credits_a_top_up_whose_webhook_never_came(sandbox, market, user, settings):
    settings.RELWORX_POLL_AFTER = timedelta(0)
    deposit = top_up(user, "+256770000003")
    wait_for(lambda: status_of(deposit, ("processing",)))
    wait_for(lambda: sandbox.listing()[-1]["status"] == "success")  # decided at Relworx
    from payments.tasks import mobile_money_poll_due

    assert mobile_money_poll_due() == 1
    assert status_of(deposit).status == "completed"
    assert mobile_money_poll_due() == 0
    assert credits(deposit).count() == 1
    assert balance_get(user=user, currency="UGX") == Decimal("97500")


def test_a_duplicate_webhook_and_concurrent_polls_credit_once(
    sandbox, market, user, live_server, settings
):
    """The success arrives twice by webhook while two pollers ask Relworx at
    the same moment, each on its own thread and database connection: the
    wallet is credited exactly once."""
    from tests.payments.test_mobile_money_trades import _event, _post, _sign

    deposit = top_up(user, "+256770000003")  # succeeds at Relworx, sends no webhook itself
    wait_for(lambda: sandbox.listing()[-1]["status"] == "success")
    payment = MobileMoneyPayment.objects.get(top_up=deposit)
    wait_for(lambda: MobileMoneyPayment.objects.get(pk=payment.pk).internal_reference)
    payment.refresh_from_db()
    body = _event(payment)
    barrier = threading.Barrier(4)
    results = []

    def webhook():
        header = _sign(sandbox.webhook_url, body)
        barrier.wait()
        results.append(_post(live_server, body, header).status_code)

    def poll():
        try:
            barrier.wait()
            results.append(mobile_money_poll(payment_id=payment.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=f) for f in (webhook, webhook, poll, poll)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(200) == 2
    done = wait_for(lambda: status_of(deposit))
    assert done.status == "completed"
    assert credits(done).count() == 1
    assert balance_get(user=user, currency="UGX") == Decimal("97500")
    call_command("reconcile_ledger")


def test_an_expired_top_up_whose_money_arrives_later_is_credited(sandbox, market, user, settings):
    settings.RELWORX_POLL_AFTER = timedelta(0)
    deposit = top_up(user, "+256770000003")
    wait_for(lambda: status_of(deposit, ("processing",)))
    settings.TRADE_PENDING_TTL = timedelta(0)
    assert top_ups_expire() == [deposit.pk]
    assert status_of(deposit).status == "expired"
    assert LimitUsage.objects.get(reference=f"top_up:{deposit.public_id}").released_at
    payment = MobileMoneyPayment.objects.get(top_up=deposit)
    wait_for(lambda: sandbox.listing()[-1]["status"] == "success")  # decided at Relworx
    assert mobile_money_poll(payment_id=payment.pk) == "succeeded"
    done = status_of(deposit)
    assert done.status == "completed"
    assert credits(done).count() == 1
    assert balance_get(user=user, currency="UGX") == Decimal("97500")
    # Counted again: the money arrived.
    assert LimitUsage.objects.get(reference=f"top_up:{deposit.public_id}").released_at is None


def test_a_top_up_past_the_limit_when_it_arrives_is_credited_and_flagged(
    sandbox, market, user, settings
):
    """The limit is checked when the top-up starts; money that arrives is
    credited whatever the limit says by then, and staff are told."""
    from tests.wallet.conftest import small_limits

    small_limits(settings, top_up=("150000", "1000000"))
    first = top_up(user, "+256770000005")  # stays pending: its use still counts
    # The second would pass the daily limit now: refused, nothing written.
    with pytest.raises(Exception) as refused:
        top_up(user, "+256770000001")
    assert getattr(refused.value, "code", "") == "limit_exceeded"
    assert Deposit.objects.filter(user=user).count() == 1
    # Staff raise nothing; the first top-up's money arrives for more than
    # the limit (a person approved a larger figure at Relworx): credited, flagged.
    from wallet.services import top_up_complete

    top_up_complete(
        deposit_id=first.pk,
        funding_account=house_account(kind=AccountKind.MOBILE_MONEY_CLEARING, currency="UGX"),
        amount_received=Decimal("200000"),
        actor="test",
    )
    done = Deposit.objects.get(pk=first.pk)
    assert done.status == "completed" and done.flagged
    assert "top_up_daily" in done.flag_reason
    assert balance_get(user=user, currency="UGX") == Decimal("195000")


def test_a_prompt_is_not_sent_for_a_top_up_that_expired_before_it_went_out(
    make_sandbox, market, user, settings
):
    make_sandbox()
    settings.CELERY_TASK_ALWAYS_EAGER = False  # nothing submits on commit
    deposit = top_up(user, "+256770000001")
    settings.TRADE_PENDING_TTL = timedelta(0)
    top_ups_expire()
    from payments.services import mobile_money_submit

    payment = MobileMoneyPayment.objects.get(top_up=deposit)
    assert mobile_money_submit(payment_id=payment.pk) == "trade_closed"
    assert MobileMoneyPayment.objects.get(pk=payment.pk).status == "failed"
    time.sleep(0.1)
    assert Deposit.objects.get(pk=deposit.pk).status == "expired"


def test_reconciliation_credits_a_top_up_whose_effect_is_missing(sandbox, market, user):
    from payments.services import mobile_money_reconcile

    deposit = top_up(user, "+256770000005")  # stays pending at Relworx
    payment = MobileMoneyPayment.objects.get(top_up=deposit)
    # As if a worker died between recording Relworx's answer and crediting.
    MobileMoneyPayment.objects.filter(pk=payment.pk).update(
        status="succeeded", amount_received=payment.amount, outcome=""
    )
    assert mobile_money_reconcile()["effects_applied"] == 1
    assert Deposit.objects.get(pk=deposit.pk).status == "completed"
    assert mobile_money_reconcile()["effects_applied"] == 0
    assert credits(deposit).count() == 1
    assert balance_get(user=user, currency="UGX") == Decimal("97500")
    call_command("reconcile_ledger")
