"""Staff resolve flagged mobile-money payments (service and admin view): a
credit to the user's wallet through the ledger, or a dismissal, recorded
append-only, once — also when two people resolve at the same moment."""

import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from accounts.roles import ADMIN, DEPOSIT_REVIEWER
from dtexchange.errors import InvalidInput, NotFound
from ledger.models import AccountKind, LedgerTransaction
from ledger.selectors import balance_get
from ledger.services import house_account
from notifications.models import OutboxEvent
from payments.errors import (
    CreditNotAllowed,
    FlagAlreadyResolved,
    NotAResolver,
    PaymentNotFlagged,
)
from payments.models import AppendOnlyError, MobileMoneyPayment, PaymentResolution
from payments.phone import msisdn_parse
from payments.services import (
    mobile_money_apply_status,
    mobile_money_flag_resolve,
    mobile_money_payment_create,
)
from tests.factories import UserFactory, fund_reserves, ledger_rows, set_prices
from tests.payments.conftest import wait_for
from tests.staff import staff_sign_in
from trading.models import Trade, TradeStatus
from trading.services import trade_buy

pytestmark = pytest.mark.django_db(transaction=True)
Status = MobileMoneyPayment.Status


@pytest.fixture
def reviewer():
    return UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)


@pytest.fixture
def customer():
    return UserFactory()


def _payment(user, *, direction="collection", amount="5000"):
    with transaction.atomic():
        payment = mobile_money_payment_create(
            direction=direction,
            user=user,
            msisdn=msisdn_parse(value="+256770000005"),
            amount=Decimal(amount),
            currency="UGX",
            submit=False,
        )
    return payment


def _report(payment, status, amount=None, currency="UGX"):
    raw = {"status": status, "amount": amount, "currency": currency, "msisdn": "+256770000005"}
    return mobile_money_apply_status(
        payment_id=payment.pk,
        status=status,
        amount=Decimal(amount) if amount is not None else None,
        currency=currency,
        internal_reference=f"rw-{payment.reference}",
        raw=raw,
        source="poll",
    )


def short_payment(user):
    """Relworx says success, but for 100 UGX less: flagged, still pending."""
    payment = _payment(user)
    assert _report(payment, "success", "4900") == "flagged"
    return MobileMoneyPayment.objects.get(pk=payment.pk)


def success_after_failure(user):
    """Failed first, then a success arrives: flagged, the money did come."""
    payment = _payment(user)
    assert _report(payment, "failed") == "failed"
    assert _report(payment, "success", "5000") == "flagged"
    return MobileMoneyPayment.objects.get(pk=payment.pk)


def clearing():
    account = house_account(kind=AccountKind.MOBILE_MONEY_CLEARING, currency="UGX")
    account.refresh_from_db()
    return account.balance


def nothing_written(before):
    assert ledger_rows() == before[0]
    assert PaymentResolution.objects.count() == before[1]
    assert OutboxEvent.objects.filter(kind="notification").count() == before[2]


def snapshot():
    return (
        ledger_rows(),
        PaymentResolution.objects.count(),
        OutboxEvent.objects.filter(kind="notification").count(),
    )


# --- the service ------------------------------------------------------------------


def test_crediting_a_short_payment_moves_what_arrived_once_and_tells_the_user(reviewer, customer):
    payment = short_payment(customer)
    before = ledger_rows()
    resolution = mobile_money_flag_resolve(
        payment_id=payment.pk,
        actor=reviewer,
        outcome="credited",
        note="Relworx dashboard shows 4,900 received",
        amount=Decimal("4900"),
    )
    assert balance_get(user=customer, currency="UGX") == Decimal("4900")
    assert clearing() == Decimal("-4900")
    assert ledger_rows()[0] == before[0] + 1
    after = MobileMoneyPayment.objects.get(pk=payment.pk)
    assert (after.status, after.outcome, after.amount_received) == (
        Status.SUCCEEDED,
        "wallet_credited",
        Decimal("4900"),
    )
    assert after.flagged and after.resolved_at is not None
    assert (resolution.outcome, resolution.actor, resolution.actor_email) == (
        "credited",
        reviewer,
        reviewer.email,
    )
    assert resolution.amount_credited == Decimal("4900")
    assert resolution.note == "Relworx dashboard shows 4,900 received"
    assert "we asked for 5000" in resolution.flag_reason
    assert resolution.payment_status == "pending"
    assert resolution.ledger_reference == f"momo:{payment.reference}:wallet"
    note = OutboxEvent.objects.get(kind="notification", user_id=customer.pk)
    assert "UGX 4,900" in note.payload["body"]
    emails = [m for m in mail.outbox if m.to == [customer.email]]
    assert len(emails) == 1 and "UGX 4,900" in emails[0].subject
    assert payment.reference in emails[0].body
    call_command("reconcile_ledger")


def test_resolving_books_a_reported_charge_nothing_booked_yet_and_only_once(reviewer, customer):
    """A flag raised before flagged successes booked Relworx's charge (the
    charge is on the payment, not in the books): the resolution books it,
    and a later report of the same success books nothing more."""
    payment = _payment(customer)
    MobileMoneyPayment.objects.filter(pk=payment.pk).update(
        flagged=True,
        flag_reason="poll: Relworx reports 4900 UGX, we asked for 5000 UGX; not settled",
        internal_reference=f"rw-{payment.reference}",
        amount_received=Decimal("4900"),
        charge=Decimal("122.5"),
    )
    charges = LedgerTransaction.objects.filter(idempotency_key=f"momo:{payment.reference}:charge")
    assert charges.count() == 0
    mobile_money_flag_resolve(
        payment_id=payment.pk,
        actor=reviewer,
        outcome="credited",
        note="Relworx dashboard shows 4,900 received",
        amount=Decimal("4900"),
    )
    assert charges.count() == 1
    fees = house_account(kind="relworx_fees", currency="UGX")
    assert fees.balance == Decimal("-123")  # 122.5 rounded up to a whole UGX
    assert _report(payment, "success", "4900") == "duplicate"
    assert charges.count() == 1
    fees.refresh_from_db()
    assert fees.balance == Decimal("-123")
    assert clearing() == Decimal("-4900") + Decimal("123")
    call_command("reconcile_ledger")


def test_a_success_after_a_failure_can_be_credited(reviewer, customer):
    payment = success_after_failure(customer)
    assert payment.status == Status.FAILED and "success arrived after" in payment.flag_reason
    mobile_money_flag_resolve(
        payment_id=payment.pk,
        actor=reviewer,
        outcome="credited",
        note="Customer's statement shows the debit",
        amount=Decimal("5000"),
    )
    assert balance_get(user=customer, currency="UGX") == Decimal("5000")
    after = MobileMoneyPayment.objects.get(pk=payment.pk)
    # The status keeps Relworx's first word; the outcome says what we did.
    assert (after.status, after.outcome) == (Status.FAILED, "wallet_credited")


def test_dismissing_moves_no_money_and_is_recorded(customer):
    admin = UserFactory(roles=[ADMIN], is_staff=True)  # the admin role may resolve too
    payment = short_payment(customer)
    before = ledger_rows()
    resolution = mobile_money_flag_resolve(
        payment_id=payment.pk, actor=admin, outcome="dismissed", note="Refunded by Relworx"
    )
    assert ledger_rows() == before
    assert balance_get(user=customer, currency="UGX") == 0
    assert (resolution.outcome, resolution.amount_credited, resolution.actor) == (
        "dismissed",
        None,
        admin,
    )
    after = MobileMoneyPayment.objects.get(pk=payment.pk)
    assert after.status == Status.PENDING and after.resolved_at is not None
    assert not OutboxEvent.objects.filter(kind="notification").exists()


@pytest.mark.parametrize(
    ("who", "kwargs", "error", "code"),
    [
        ("reviewer", {"note": "   "}, InvalidInput, "note_required"),
        ("reviewer", {"outcome": "refund"}, InvalidInput, "invalid_outcome"),
        ("customer", {}, NotAResolver, "permission_denied"),
        ("staff", {}, NotAResolver, "permission_denied"),
        ("reviewer", {"amount": None}, InvalidInput, "invalid_amount"),
        ("reviewer", {"amount": Decimal("0")}, InvalidInput, "invalid_amount"),
        ("reviewer", {"amount": Decimal("-4900")}, InvalidInput, "invalid_amount"),
        ("reviewer", {"amount": Decimal("4900.5")}, InvalidInput, "invalid_amount"),
        ("reviewer", {"amount": Decimal("NaN")}, InvalidInput, "invalid_amount"),
        ("reviewer", {"amount": Decimal("5000001")}, InvalidInput, "invalid_amount"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(reviewer, customer, who, kwargs, error, code):
    payment = short_payment(customer)
    actor = {
        "reviewer": reviewer,
        "customer": customer,
        "staff": UserFactory(is_staff=True),
    }[who]
    before = snapshot()
    args = {"outcome": "credited", "note": "checked", "amount": Decimal("4900"), **kwargs}
    with pytest.raises(error) as raised:
        mobile_money_flag_resolve(payment_id=payment.pk, actor=actor, **args)
    assert raised.value.code == code
    nothing_written(before)
    assert MobileMoneyPayment.objects.get(pk=payment.pk).resolved_at is None


def test_resolving_twice_is_refused(reviewer, customer):
    payment = short_payment(customer)
    mobile_money_flag_resolve(
        payment_id=payment.pk, actor=reviewer, outcome="dismissed", note="handled"
    )
    before = snapshot()
    for outcome in ("credited", "dismissed"):
        with pytest.raises(FlagAlreadyResolved) as raised:
            mobile_money_flag_resolve(
                payment_id=payment.pk,
                actor=reviewer,
                outcome=outcome,
                note="again",
                amount=Decimal("4900"),
            )
        assert raised.value.status == 409
        assert raised.value.details["by"] == reviewer.email
    nothing_written(before)


def test_unflagged_and_unknown_payments_are_refused(reviewer, customer):
    payment = _payment(customer)
    before = snapshot()
    with pytest.raises(PaymentNotFlagged):
        mobile_money_flag_resolve(
            payment_id=payment.pk, actor=reviewer, outcome="dismissed", note="x"
        )
    with pytest.raises(NotFound):
        mobile_money_flag_resolve(
            payment_id=payment.pk + 1000, actor=reviewer, outcome="dismissed", note="x"
        )
    nothing_written(before)


def test_a_payout_or_another_currency_is_never_credited_only_dismissed(reviewer, customer):
    payout = _payment(customer, direction="payout")
    assert _report(payout, "weird") == "flagged"  # an unknown status
    other_currency = _payment(customer)
    assert _report(other_currency, "success", "5000", currency="USD") == "flagged"
    before = snapshot()
    for payment in (payout, other_currency):
        with pytest.raises(CreditNotAllowed):
            mobile_money_flag_resolve(
                payment_id=payment.pk,
                actor=reviewer,
                outcome="credited",
                note="x",
                amount=Decimal("5000"),
            )
    nothing_written(before)
    mobile_money_flag_resolve(payment_id=payout.pk, actor=reviewer, outcome="dismissed", note="x")


def test_a_new_flag_reopens_but_never_allows_a_second_credit(reviewer, customer):
    payment = short_payment(customer)
    mobile_money_flag_resolve(
        payment_id=payment.pk,
        actor=reviewer,
        outcome="credited",
        note="checked",
        amount=Decimal("4900"),
    )
    # Now succeeded; a contradicting "failed" flags it again.
    assert _report(payment, "failed") == "flagged"
    reopened = MobileMoneyPayment.objects.get(pk=payment.pk)
    assert reopened.resolved_at is None and "failed arrived after" in reopened.flag_reason
    before = snapshot()
    with pytest.raises(CreditNotAllowed):
        mobile_money_flag_resolve(
            payment_id=payment.pk,
            actor=reviewer,
            outcome="credited",
            note="again",
            amount=Decimal("4900"),
        )
    nothing_written(before)
    mobile_money_flag_resolve(
        payment_id=payment.pk, actor=reviewer, outcome="dismissed", note="reversal checked"
    )
    assert PaymentResolution.objects.filter(payment=payment).count() == 2
    assert balance_get(user=customer, currency="UGX") == Decimal("4900")


def test_resolutions_are_append_only_in_the_database(reviewer, customer):
    payment = short_payment(customer)
    resolution = mobile_money_flag_resolve(
        payment_id=payment.pk, actor=reviewer, outcome="dismissed", note="handled"
    )
    with pytest.raises(AppendOnlyError):
        resolution.save()
    with pytest.raises(AppendOnlyError):
        resolution.delete()
    for sql in (
        "UPDATE payments_paymentresolution SET note = 'edited'",
        "DELETE FROM payments_paymentresolution",
    ):
        with (
            pytest.raises(Exception, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert PaymentResolution.objects.get().note == "handled"
    # And a second credited row for one payment is refused by the database too.
    with pytest.raises(IntegrityError), transaction.atomic():
        for _ in range(2):
            PaymentResolution.objects.create(
                payment=payment,
                outcome="credited",
                actor=reviewer,
                actor_email=reviewer.email,
                note="x",
                amount_credited=Decimal("1"),
                currency="UGX",
                payment_status="pending",
            )


@pytest.mark.parametrize("outcomes", [("credited", "credited"), ("credited", "dismissed")])
def test_two_people_resolving_at_once_resolve_once_and_credit_at_most_once(customer, outcomes):
    payment = short_payment(customer)
    people = [UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True) for _ in outcomes]
    before = ledger_rows()[0]
    barrier = threading.Barrier(len(outcomes))
    results = []

    def resolve(who, outcome):
        try:
            barrier.wait()
            mobile_money_flag_resolve(
                payment_id=payment.pk,
                actor=who,
                outcome=outcome,
                note=f"{outcome} by {who.email}",
                amount=Decimal("4900"),
            )
            results.append(outcome)
        except FlagAlreadyResolved:
            results.append("conflict")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=resolve, args=pair) for pair in zip(people, outcomes, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results.count("conflict") == 1
    [won] = [r for r in results if r != "conflict"]
    resolution = PaymentResolution.objects.get()
    assert resolution.outcome == won
    credited = Decimal("4900") if won == "credited" else Decimal("0")
    assert balance_get(user=customer, currency="UGX") == credited
    assert ledger_rows()[0] == before + (1 if won == "credited" else 0)
    assert OutboxEvent.objects.filter(kind="notification").count() == (
        1 if won == "credited" else 0
    )
    call_command("reconcile_ledger")


# --- with a trade, over the sandbox -------------------------------------------------


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


def _buy(user, number):
    return trade_buy(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=Decimal("100000"),
        payment_method="mobile_money",
        payment_details={"phone_number": number},
    )


def test_a_short_payment_for_a_buy_credits_the_wallet_and_closes_the_trade(
    sandbox, market, customer, reviewer
):
    trade = _buy(customer, "+256770000009")  # the sandbox pays 100 UGX less
    payment = wait_for(lambda: MobileMoneyPayment.objects.filter(trade=trade, flagged=True).first())
    assert payment.amount_received == Decimal("99900")
    mobile_money_flag_resolve(
        payment_id=payment.pk,
        actor=reviewer,
        outcome="credited",
        note="Short by 100 on Relworx too",
        amount=payment.amount_received,
    )
    assert balance_get(user=customer, currency="UGX") == Decimal("99900")
    assert balance_get(user=customer, currency="BTC") == 0
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.FAILED
    call_command("reconcile_ledger")


def test_a_settled_buy_flagged_later_cannot_be_credited_again(sandbox, market, customer, reviewer):
    trade = _buy(customer, "+256770000001")
    payment = wait_for(
        lambda: MobileMoneyPayment.objects.filter(trade=trade, status="succeeded").first()
    )
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.COMPLETED
    assert _report(payment, "failed") == "flagged"  # contradicts the settled success
    before = snapshot()
    with pytest.raises(CreditNotAllowed):
        mobile_money_flag_resolve(
            payment_id=payment.pk,
            actor=reviewer,
            outcome="credited",
            note="x",
            amount=Decimal("100000"),
        )
    nothing_written(before)


# --- the admin view -------------------------------------------------------------------


def _url(payment):
    return f"/admin/payments/mobilemoneypayment/{payment.pk}/resolve/"


def test_reviewers_find_open_flags_and_resolve_with_a_note(client, reviewer, customer):
    payment = short_payment(customer)
    staff_sign_in(client, reviewer)
    listing = client.get("/admin/payments/mobilemoneypayment/?attention=open").content.decode()
    assert payment.reference in listing and _url(payment) in listing
    page = client.get(_url(payment)).content.decode()
    assert "UGX 4,900" in page and "we asked for 5000" in page
    before = snapshot()
    # No note: the form again with the error, nothing written.
    page = client.post(_url(payment), {"outcome": "credited", "amount": "4900", "note": " "})
    assert page.status_code == 200 and "A note is required" in page.content.decode()
    # Not a number: the same.
    page = client.post(_url(payment), {"outcome": "credited", "amount": "lots", "note": "x"})
    assert "Enter the amount received" in page.content.decode()
    # Another figure than Relworx's: asked to confirm first.
    page = client.post(_url(payment), {"outcome": "credited", "amount": "49,000", "note": "x"})
    assert "Confirm credit" in page.content.decode() and "UGX 49,000" in page.content.decode()
    nothing_written(before)
    done = client.post(
        _url(payment), {"outcome": "credited", "amount": "4,900", "note": "Relworx shows 4,900"}
    )
    assert done.status_code == 302 and done["Location"].endswith("?attention=open")
    assert balance_get(user=customer, currency="UGX") == Decimal("4900")
    assert PaymentResolution.objects.get().actor == reviewer
    # Again (a second tab, a double click): refused with a message, nothing more.
    before = snapshot()
    again = client.post(
        _url(payment), {"outcome": "credited", "amount": "4900", "note": "x"}, follow=True
    )
    assert "already been resolved" in again.content.decode()
    nothing_written(before)
    page = client.get(f"/admin/payments/mobilemoneypayment/{payment.pk}/change/").content.decode()
    assert "Relworx shows 4,900" in page  # the resolution, inline


def test_only_resolvers_reach_the_resolve_page(client, customer):
    payment = short_payment(customer)
    client.force_login(customer)
    assert client.get(_url(payment)).status_code == 302  # to the admin login
    staff_sign_in(client, UserFactory(is_staff=True))
    assert client.post(_url(payment), {"outcome": "dismissed", "note": "x"}).status_code == 403
    assert not PaymentResolution.objects.exists()
