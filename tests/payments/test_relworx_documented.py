"""Relworx as its documentation says it behaves, against the sandbox (a real
local HTTP server): the status fields, unknown statuses, charges and network
references, ambiguous resends, refusals of our key/IP, rate limits, the payout
safeguards (validate, float), unsigned webhook amounts, the statement
reconciliation and what customers are told while mobile money is down."""

import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from celery.exceptions import Retry
from django.utils import timezone

from ledger.models import LedgerTransaction
from ledger.selectors import balance_get
from notifications.models import OutboxEvent
from payments.models import MobileMoneyPayment, StatementDifference
from payments.relworx import RelworxClient, RelworxRejected
from payments.services import (
    mobile_money_apply_status,
    mobile_money_poll,
    mobile_money_submit,
)
from payments.services.statement import relworx_health_check, relworx_statement_reconcile
from payments.signature import signature_header
from tests.factories import (
    UserFactory,
    confirm_payout_number,
    fund_reserves,
    fund_wallet,
    ledger_rows,
    set_prices,
)
from tests.payments.conftest import ACCOUNT_NO, API_KEY, WEBHOOK_PATH, WEBHOOK_SECRET, wait_for
from trading.models import Trade, TradeStatus
from trading.services import trade_buy, trade_sell

pytestmark = pytest.mark.django_db(transaction=True)
Status = MobileMoneyPayment.Status
D = Decimal


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


@pytest.fixture
def user():
    return UserFactory()


def client_for(server, **kw):
    return RelworxClient(
        base_url=server.base_url, api_key=API_KEY, account_no=ACCOUNT_NO, backoff=0.01, **kw
    )


def buy(user, number, amount="100000"):
    return trade_buy(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=Decimal(amount),
        payment_method="mobile_money",
        payment_details={"phone_number": number},
    )


def sell(user, number):
    fund_wallet(user, "BTC", "0.01")
    confirm_payout_number(user, number)  # payouts go only to confirmed numbers
    return trade_sell(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=Decimal("0.001"),
        payment_method="mobile_money",
        payment_details={"phone_number": number},
    )


def payment_of(trade):
    return MobileMoneyPayment.objects.get(trade=trade)


def staff_alerts(topic):
    return [
        e
        for e in OutboxEvent.objects.filter(kind="email.staff_alert")
        if e.payload["context"]["topic"] == topic
    ]


# --- 4. which field is the transaction's status ------------------------------------


def test_request_status_is_the_transactions_status_not_the_calls(make_sandbox):
    server = make_sandbox(delay=30)  # stays pending for the test
    with client_for(server) as client:
        accepted = client.request_payment(
            reference="DTXTEST0000001",
            msisdn="+256770000001",
            amount=D(5000),
            currency="UGX",
            description="t",
        )
        status = client.check_request_status(internal_reference=accepted.internal_reference)
        # The call succeeded ("status": "success") while the payment is pending.
        assert status.raw["status"] == "success" and status.raw["request_status"] == "pending"
        assert status.status == "pending"
        server.switch({"no_request_status": True})  # the other shape the docs allow
        assert (
            client.check_request_status(internal_reference=accepted.internal_reference).status
            == "pending"
        )


def test_an_unknown_request_status_is_flagged_never_settled(make_sandbox, market, user):
    make_sandbox(delay=0.1)
    trade = buy(user, "+256770000011")
    time.sleep(0.2)
    before = ledger_rows()
    assert mobile_money_poll(payment_id=payment_of(trade).pk) == "flagged"
    payment = payment_of(trade)
    assert payment.status == Status.PENDING and payment.flagged
    assert "unknown status 'processing'" in payment.flag_reason
    assert ledger_rows() == before


# --- 8. charge and the network's reference ------------------------------------------


def test_charge_and_provider_transaction_id_are_recorded_and_booked(
    sandbox, market, user, client, django_user_model
):
    from django.core.management import call_command

    from ledger.services import house_account
    from tests.staff import staff_sign_in

    trade = buy(user, "+256770000001")
    wait_for(lambda: Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED)
    payment = payment_of(trade)
    assert payment.charge == D("2500.0")  # the sandbox charges 2.5 %, as the docs' sample
    assert payment.provider_transaction_id.startswith("MP")
    # The charge is our expense; the clearing account mirrors the Relworx
    # wallet, which received 100,000 less the 2,500 charge.
    fees = house_account(kind="relworx_fees", currency="UGX")
    clearing = house_account(kind="mobile_money_clearing", currency="UGX")
    assert fees.balance == D("-2500")
    assert clearing.balance == D("-100000") + D("2500")
    # The same success reported again (a later status answer, a repeat):
    # the charge is booked once.
    for _ in range(2):
        again = mobile_money_apply_status(
            payment_id=payment.pk,
            status="success",
            amount=payment.amount,
            currency=payment.currency,
            internal_reference=payment.internal_reference,
            charge=payment.charge,
            provider_transaction_id=payment.provider_transaction_id,
            source="poll",
        )
        assert again == "duplicate"
    charges = LedgerTransaction.objects.filter(idempotency_key=f"momo:{payment.reference}:charge")
    assert charges.count() == 1
    fees.refresh_from_db()
    assert fees.balance == D("-2500")
    call_command("reconcile_ledger")
    staff = django_user_model.objects.create_superuser("ops@example.com", "pw-Long-enough-1")
    staff_sign_in(client, staff)
    page = client.get(f"/admin/payments/mobilemoneypayment/{payment.pk}/change/")
    assert page.status_code == 200
    assert payment.provider_transaction_id in page.content.decode()
    listing = client.get("/admin/payments/mobilemoneypayment/").content.decode()
    assert "2,500" in listing or "2500" in listing


def test_the_charge_of_a_flagged_success_is_booked_once(make_sandbox, market, user):
    """+256770000009: Relworx reports a success for 100 UGX less, so the
    payment is flagged, not settled; Relworx took its charge all the same.
    It is booked when the success is reported, once, whatever comes after
    (the same answer again, a person crediting the wallet)."""
    from django.core.management import call_command

    from accounts.roles import DEPOSIT_REVIEWER
    from ledger.services import house_account
    from payments.services import mobile_money_flag_resolve

    make_sandbox(delay=0.1)
    trade = buy(user, "+256770000009")
    time.sleep(0.2)
    payment = payment_of(trade)
    assert mobile_money_poll(payment_id=payment.pk) == "flagged"
    payment = payment_of(trade)
    assert payment.status == Status.PENDING and payment.flagged
    assert (payment.charge, payment.amount_received) == (D("2500.0"), D("99900"))
    charges = LedgerTransaction.objects.filter(idempotency_key=f"momo:{payment.reference}:charge")
    fees = house_account(kind="relworx_fees", currency="UGX")
    assert charges.count() == 1 and fees.balance == D("-2500")
    again = mobile_money_apply_status(
        payment_id=payment.pk,
        status="success",
        amount=D("99900"),
        currency="UGX",
        internal_reference=payment.internal_reference,
        charge=D("2500.0"),
        source="poll",
    )
    assert again == "flagged"
    reviewer = UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)
    mobile_money_flag_resolve(
        payment_id=payment.pk,
        actor=reviewer,
        outcome="credited",
        note="Relworx's statement shows 99,900 received",
        amount=D("99900"),
    )
    assert charges.count() == 1
    fees.refresh_from_db()
    clearing = house_account(kind="mobile_money_clearing", currency="UGX")
    assert fees.balance == D("-2500")
    assert clearing.balance == D("-99900") + D("2500")  # mirrors the Relworx wallet
    assert balance_get(user=user, currency="UGX") == D("99900")
    call_command("reconcile_ledger")


# --- 5. never pay out twice -----------------------------------------------------


@pytest.mark.parametrize("attempts", [1, 3], ids=["celery-retry", "client-retry"])
def test_a_refused_resend_leaves_the_payout_ambiguous_until_the_status_check(
    make_sandbox, market, user, settings, attempts
):
    """+256770000010: the first send is accepted but answered 503; the resend
    (a Celery retry, or the client's own) is refused 409 "duplicate reference".
    No refund: the status check (found through the statement) settles it."""
    settings.RELWORX_MAX_ATTEMPTS = attempts
    server = make_sandbox(delay=0.1)
    # The send task meets the 503 (and, retrying inside the call, the 409):
    # eager Celery hands the task's retry back here.
    with pytest.raises(Retry):
        sell(user, "+256770000010")
    trade = Trade.objects.get(user=user)
    assert payment_of(trade).maybe_sent
    # The task's retry: a new call that knows only what the database remembers.
    assert mobile_money_submit(payment_id=payment_of(trade).pk) == "waiting"
    payment = payment_of(trade)
    assert payment.waiting_reason == "ambiguous" and payment.error_code == "DUPLICATE_REFERENCE"
    sends = [h[2] for h in server.hits if h[1].endswith("send-payment")]
    assert sends == ([503, 409] if attempts == 1 else [503, 409, 409])
    assert payment.status == Status.PENDING and payment.maybe_sent
    assert payment.internal_reference is None
    assert Trade.objects.get(pk=trade.pk).status != TradeStatus.FAILED
    assert balance_get(user=user, currency="UGX") == 0  # not refunded
    time.sleep(0.2)
    assert mobile_money_poll(payment_id=payment.pk) == "succeeded"
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED
    assert balance_get(user=user, currency="UGX") == 0
    assert len(server.listing()) == 1  # one payout at Relworx


def test_the_original_answer_to_a_resend_is_also_survived(sandbox, market, user):
    trade = sell(user, "+256770000007")
    done = wait_for(lambda: Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED)
    assert done and len(sandbox.listing()) == 1


def test_a_clean_refusal_of_a_first_send_is_a_definite_failure(sandbox, market, user):
    trade = sell(user, "+256770000008")
    payment = payment_of(trade)
    assert payment.status == Status.FAILED and payment.error_code == "INVALID_PARAMETERS"
    done = Trade.objects.get(pk=trade.pk)
    assert done.status == TradeStatus.FAILED
    assert balance_get(user=user, currency="UGX") == done.fiat_amount - done.fee_amount


# --- 11. 401/403 are our configuration; 429 waits; 10b. customers are told ----------


@pytest.mark.parametrize("switch", ["ip_blocked", "api_disabled", "account_disabled"])
def test_a_403_leaves_the_payment_waiting_tells_staff_and_shows_mobile_money_down(
    sandbox, market, user, switch, client
):
    sandbox.switch({switch: True})
    trade = buy(user, "+256770000001")
    payment = payment_of(trade)
    assert payment.status == Status.PENDING and payment.waiting_reason == "relworx_refused"
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.PENDING  # not failed
    if switch != "ip_blocked":
        assert payment.error_code == switch.upper()
    (alert,) = staff_alerts("relworx_refused")
    assert "not a customer's failure" in alert.payload["context"]["body"]
    methods = client.get("/api/trading/payment-methods").json()["payment_methods"]
    momo = next(m for m in methods if m["id"] == "mobile_money")
    assert momo["available"] is False and "temporarily unavailable" in momo["unavailable_reason"]
    # A new trade is refused up front instead of waiting.
    from dtexchange.errors import Conflict

    with pytest.raises(Conflict) as refused:
        buy(user, "+256770000001")
    assert refused.value.code == "payment_method_unavailable"
    # Fixed on the Relworx side: the health check clears it and sends what waited.
    sandbox.switch({switch: None})
    assert relworx_health_check()["ok"] is True
    wait_for(lambda: Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED)
    momo = next(
        m
        for m in client.get("/api/trading/payment-methods").json()["payment_methods"]
        if m["id"] == "mobile_money"
    )
    assert momo["available"] is True and momo["unavailable_reason"] is None


def test_a_401_for_a_wrong_key_waits_too(sandbox, market, user, settings):
    settings.RELWORX_API_KEY = "not-the-key"
    trade = sell(user, "+256770000001")
    payment = payment_of(trade)
    assert payment.status == Status.PENDING and payment.waiting_reason == "relworx_refused"
    assert balance_get(user=user, currency="UGX") == 0  # nothing refunded: nothing failed


def test_a_429_waits(sandbox, market, user):
    sandbox.switch({"rate_limited": True})
    trade = buy(user, "+256770000001")
    payment = payment_of(trade)
    assert payment.status == Status.PENDING and payment.waiting_reason == "relworx_throttled"
    assert not payment.maybe_sent


# --- 9. payout safeguards ------------------------------------------------------------


def test_validate_names_an_airtel_holder_and_an_mtn_number_still_pays_out(
    sandbox, market, user, client
):
    airtel = sell(user, "+256700000001")
    wait_for(lambda: Trade.objects.get(pk=airtel.pk).status == TradeStatus.COMPLETED)
    assert payment_of(airtel).customer_name == "SANDBOX CUSTOMER 0001"
    client.force_login(user)
    page = client.get(f"/trades/{airtel.public_id}/")
    assert "to SANDBOX CUSTOMER 0001" in page.content.decode()  # the holder, shown
    mtn = sell(UserFactory(), "+256770000001")  # validate refuses MTN numbers (the docs)
    wait_for(lambda: Trade.objects.get(pk=mtn.pk).status == TradeStatus.COMPLETED)
    assert payment_of(mtn).customer_name == ""
    paths = [h[1] for h in sandbox.hits]
    # Asked when each number was confirmed as a payout number, and again before its payout.
    assert paths.count("/api/mobile-money/validate") == 4
    assert paths.count("/api/mobile-money/check-wallet-balance") == 2


def test_low_float_makes_the_payout_wait_and_staff_are_told(sandbox, market, user, client):
    sandbox.switch({"float": 1000, "balance_as_string": True})
    trade = sell(user, "+256770000001")
    payment = payment_of(trade)
    assert payment.status == Status.PENDING and payment.waiting_reason == "low_float"
    assert not payment.maybe_sent  # nothing was sent
    assert not [h for h in sandbox.hits if h[1].endswith("send-payment")]
    assert Trade.objects.get(pk=trade.pk).status != TradeStatus.FAILED
    assert balance_get(user=user, currency="UGX") == 0
    assert staff_alerts("relworx_low_float")
    client.force_login(user)
    detail = client.get(f"/trades/{trade.public_id}/").content.decode()
    assert "Your payout is queued" in detail
    momo = next(
        m
        for m in client.get("/api/trading/payment-methods").json()["payment_methods"]
        if m["id"] == "mobile_money"
    )
    assert (momo["buy_available"], momo["sell_available"]) == (True, False)
    assert "payouts are paused" in momo["unavailable_reason"]
    client.force_login(user)
    page = client.get("/trade/")
    assert page.status_code == 200
    assert "payouts are paused" in page.content.decode()
    sandbox.switch({"float": None})
    assert relworx_health_check()["resumed"] == 1
    wait_for(lambda: Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED)


# --- 6. unsigned webhook fields ------------------------------------------------------


def test_a_webhook_s_unsigned_amount_never_moves_money(sandbox, market, user, live_server):
    trade = buy(user, "+256770000003")  # succeeds at Relworx, which sends no webhook
    wait_for(lambda: sandbox.listing()[-1]["status"] == "success")
    payment = payment_of(trade)
    body = {
        "status": "success",
        "message": "ok",
        "customer_reference": payment.reference,
        "internal_reference": payment.internal_reference,
        "amount": 1,  # tampered: not part of the signature
        "currency": "USD",
        "charge": 0,
    }
    fields = {k: body[k] for k in ("customer_reference", "internal_reference", "status")}
    header = signature_header(key=WEBHOOK_SECRET, url=sandbox.webhook_url, fields=fields)
    r = httpx.post(
        f"{live_server.url}{WEBHOOK_PATH}",
        json=body,
        headers={"Relworx-Signature": header},
        timeout=10,
    )
    assert r.json()["result"] == "status_check_queued"
    settled = payment_of(trade)
    assert settled.status == Status.SUCCEEDED and not settled.flagged
    assert settled.amount_received == D("100000")  # what the status check said
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED


def test_a_webhook_s_unsigned_amount_is_neither_kept_nor_offered_to_staff(
    sandbox, market, user, live_server, client
):
    """A payment failed; then a validly signed "success" webhook arrives with
    an edited amount (the signature covers the references and the status
    only). The contradiction is flagged for a person, and the resolve form
    neither shows nor prefills that amount: staff would credit it."""
    from accounts.roles import DEPOSIT_REVIEWER
    from payments.models import WebhookEvent
    from payments.selectors import flagged_payment_reported_amount
    from tests.staff import staff_sign_in

    trade = buy(user, "+256770000002")  # the payment fails at Relworx
    wait_for(lambda: payment_of(trade).status == Status.FAILED)
    payment = payment_of(trade)
    body = {
        "status": "success",
        "message": "Request payment completed successfully.",
        "customer_reference": payment.reference,
        "internal_reference": payment.internal_reference,
        "amount": 4999999,  # edited: not covered by the signature
        "currency": "UGX",
        "charge": 0,
    }
    fields = {k: body[k] for k in ("customer_reference", "internal_reference", "status")}
    header = signature_header(key=WEBHOOK_SECRET, url=sandbox.webhook_url, fields=fields)
    r = httpx.post(
        f"{live_server.url}{WEBHOOK_PATH}",
        json=body,
        headers={"Relworx-Signature": header},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["result"] == "flagged"
    flagged = payment_of(trade)
    assert flagged.flagged and flagged.status == Status.FAILED
    assert "4999999" not in str(flagged.last_status_raw)
    assert flagged.last_status_raw == fields
    assert flagged_payment_reported_amount(flagged) is None
    event = WebhookEvent.objects.get(
        internal_reference=payment.internal_reference, status="success"
    )
    assert event.payload["unsigned"]["amount"] == 4999999  # kept apart, as received
    reviewer = UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)
    staff_sign_in(client, reviewer)
    page = client.get(f"/admin/payments/mobilemoneypayment/{payment.pk}/resolve/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "4999999" not in html and "4,999,999" not in html
    assert 'id="reported">no amount<' in html
    assert balance_get(user=user, currency="UGX") == 0


# --- 10. statement reconciliation --------------------------------------------------


def test_statement_reconciliation_flags_one_difference_each_way(make_sandbox, market, user):
    server = make_sandbox(delay=0.05)
    trade = buy(user, "+256770000003")
    wait_for(lambda: server.listing()[-1]["status"] == "success")
    mobile_money_poll(payment_id=payment_of(trade).pk)
    # Ours, accepted by "Relworx" (an internal reference) but not on its statement:
    ghost = MobileMoneyPayment.objects.create(
        direction="collection",
        user=user,
        reference="DTXCGHOST0000000001",
        internal_reference="ghost-internal",
        msisdn="+256770000001",
        msisdn_hash="x",
        provider="mtn",
        amount=D(5000),
        currency="UGX",
    )
    MobileMoneyPayment.objects.filter(pk=ghost.pk).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    # Theirs, unknown here:
    httpx.post(
        server.base_url.replace("/api", "/sandbox/transactions"),
        json={
            "customer_reference": "SOMEONEELSE001",
            "internal_reference": "f00",
            "status": "success",
            "amount": 7000,
            "currency": "UGX",
            "provider": "mtn_mobile_money",
        },
        timeout=5,
    )
    counts = relworx_statement_reconcile()
    assert counts["missing_there"] == 1 and counts["unknown_here"] == 1
    assert counts["status_differs"] == 0 and counts["amount_differs"] == 0
    kinds = {(d.kind, d.reference) for d in StatementDifference.objects.all()}
    assert kinds == {("missing_there", ghost.reference), ("unknown_here", "SOMEONEELSE001")}
    assert MobileMoneyPayment.objects.get(pk=ghost.pk).flagged
    assert not payment_of(trade).flagged
    assert staff_alerts("relworx_statement")
    # Run again: nothing new.
    assert relworx_statement_reconcile() == {k: 0 for k in counts}


# --- 11. error bodies -----------------------------------------------------------


def test_error_codes_are_read(make_sandbox):
    server = make_sandbox()
    with client_for(server) as client, pytest.raises(RelworxRejected) as exc:
        client.request_payment(
            reference="DTXTEST0000002",
            msisdn="+256770000008",
            amount=D(5000),
            currency="UGX",
            description="t",
        )
    assert exc.value.status_code == 400 and exc.value.error_code == "INVALID_PARAMETERS"


def test_a_collection_that_waited_past_its_order_is_never_sent(sandbox, market, user, settings):
    from payments.services import payment_trades_expire

    sandbox.switch({"ip_blocked": True})
    trade = buy(user, "+256770000001")
    settings.TRADE_PENDING_TTL = timedelta(0)
    assert payment_trades_expire() == [trade.pk]
    sandbox.switch({"ip_blocked": None})
    relworx_health_check()
    payment = payment_of(trade)
    assert payment.status == Status.FAILED and "closed before" in payment.failure_reason
    assert sandbox.listing() == []  # the customer was never prompted
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.EXPIRED


# --- 7. Relworx's webhook retries -------------------------------------------------


def test_a_retry_hours_later_with_the_first_signature_time_still_settles(
    sandbox, market, user, live_server
):
    """Relworx retries up to 10 times with back-off and may keep the first
    attempt's ``t``: a validly signed webhook 5 hours old is taken (it only
    queues the status check), one from beyond the retry window is 401."""
    trade = buy(user, "+256770000003")  # succeeds at Relworx, which sends no webhook
    wait_for(lambda: sandbox.listing()[-1]["status"] == "success")
    payment = payment_of(trade)
    body = {
        "status": "success",
        "message": "Request payment completed successfully.",
        "customer_reference": payment.reference,
        "internal_reference": payment.internal_reference,
        "amount": 100000,
        "currency": "UGX",
        "provider": "mtn_mobile_money",
        "charge": 2500,
    }
    fields = {k: body[k] for k in ("customer_reference", "internal_reference", "status")}

    def post(age):
        header = signature_header(
            key=WEBHOOK_SECRET,
            url=sandbox.webhook_url,
            fields=fields,
            timestamp=int(time.time()) - age,
        )
        return httpx.post(
            f"{live_server.url}{WEBHOOK_PATH}",
            json=body,
            headers={"Relworx-Signature": header},
            timeout=10,
        )

    assert post(73 * 3600).status_code == 401
    assert payment_of(trade).status == Status.PENDING
    response = post(5 * 3600)
    assert response.status_code == 200 and response.json()["result"] == "status_check_queued"
    assert payment_of(trade).status == Status.SUCCEEDED
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED
