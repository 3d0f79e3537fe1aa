"""Mobile-money payments through Relworx: create, submit, poll, apply outcomes.

Rules kept here:
* Relworx is called only outside database transactions (never while holding
  row locks): creation schedules submission with ``transaction.on_commit``.
* Our ``reference`` is fixed at creation and reused by every (re)submission.
  Relworx's docs do not say what a resend with a used reference gets (the
  original answer, or a "duplicate" refusal): both are survived.
* One worker at a time sends a request (a session advisory lock held across
  the call, see ``payments.sql``), and each send is claimed by
  compare-and-set on the attempt number, recording ``maybe_sent`` before
  the call: a retry or poll that comes meanwhile sends nothing, and only the
  worker that made a first send may take a refusal as a definite failure.
* ``maybe_sent`` is recorded before every send. Once set, only the status
  check (``request_status``, else ``status``) decides the outcome; a refusal
  of a resend leaves the request pending ("ambiguous"), and a request whose
  answer never came is found on Relworx's transaction list by our reference.
  Only Relworx's ``failed`` or a clean refusal of a first send fails it.
* 401/403 (our key, IP or account) and 429 leave the request waiting and tell
  staff; they never fail it. Payouts pass the safeguards first (payouts.py).
* An outcome is applied under the payment's row lock and moves the status
  only out of ``pending``; repeats are no-ops and contradictions, unknown
  statuses and amount mismatches are flagged for a person, never applied.
  Webhooks only queue the status check: only their references and status
  are signed, and nothing else from them is kept or used.
* Relworx's charge is booked once, when Relworx reports the transaction
  decided or a success that is flagged (it took the charge either way).
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import timedelta
from decimal import Decimal

import structlog
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from dtexchange.field_encryption import lookup_hash
from payments import sql
from payments.errors import TooManyPaymentPrompts
from payments.models import MobileMoneyPayment
from payments.phone import Msisdn
from payments.relworx import (
    STATUS_FAILED,
    STATUS_PENDING,
    STATUS_SUCCESS,
    RelworxClient,
    RelworxError,
    RelworxRefused,
    RelworxRejected,
    RelworxThrottled,
    RelworxUnavailable,
)
from payments.signature import SIGNED_FIELDS
from trading.selectors.trades import trade_is_open
from wallet.selectors import deposit_is_open

log = structlog.get_logger(__name__)
Status = MobileMoneyPayment.Status
Direction = MobileMoneyPayment.Direction


def _new_reference(direction: str) -> str:
    # 28 characters, inside Relworx's 8 to 36; the prefix tells people which way it went.
    prefix = "DTXC" if direction == Direction.COLLECTION else "DTXP"
    return prefix + secrets.token_hex(12).upper()


def _prompts_check(*, scope: str, limit: int, window: timedelta, **filters) -> None:
    since = timezone.now() - window
    recent = list(
        MobileMoneyPayment.objects.filter(
            direction=Direction.COLLECTION, created_at__gte=since, **filters
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return
    retry = max(1, int((recent[-1] + window - timezone.now()).total_seconds() + 0.999))
    raise TooManyPaymentPrompts(
        details={
            "scope": scope,
            "limit": limit,
            "window_seconds": int(window.total_seconds()),
            "retry_after_seconds": retry,
        }
    )


def mobile_money_prompts_allow(*, user, msisdn: Msisdn) -> None:
    """Every collection prompts a phone: at most MOBILE_MONEY_PROMPTS_PER_NUMBER
    per MOBILE_MONEY_PROMPTS_PER_NUMBER_WINDOW to one number, whoever asks
    (nobody floods a stranger's phone; Relworx itself allows about 5 per 10
    minutes per number), and MOBILE_MONEY_PROMPTS_PER_USER per
    MOBILE_MONEY_PROMPTS_PER_USER_WINDOW per user, whatever the numbers. Call
    inside the transaction that records the payment (it takes the locks).
    Raises TooManyPaymentPrompts (429, ``retry_after_seconds``)."""
    number = lookup_hash(msisdn.e164)
    # Serializes the count and the insert per user and per number (payments/sql.py).
    sql.prompts_lock(scope="user", key=str(user.pk))
    sql.prompts_lock(scope="number", key=number)
    _prompts_check(
        scope="user",
        limit=settings.MOBILE_MONEY_PROMPTS_PER_USER,
        window=settings.MOBILE_MONEY_PROMPTS_PER_USER_WINDOW,
        user=user,
    )
    _prompts_check(
        scope="phone_number",
        limit=settings.MOBILE_MONEY_PROMPTS_PER_NUMBER,
        window=settings.MOBILE_MONEY_PROMPTS_PER_NUMBER_WINDOW,
        msisdn_hash=number,
    )


def mobile_money_payment_create(
    *,
    direction: str,
    user,
    msisdn: Msisdn,
    amount: Decimal,
    currency: str,
    trade_id: int | None = None,
    top_up_id: int | None = None,
    submit: bool = True,
) -> MobileMoneyPayment:
    """Record the request in the caller's transaction; submit it after commit.
    It pays for a trade (``trade_id``) or tops up the fiat wallet
    (``top_up_id``, a wallet Deposit). A collection is refused past the
    prompt limits (mobile_money_prompts_allow)."""
    if direction == Direction.COLLECTION:
        mobile_money_prompts_allow(user=user, msisdn=msisdn)
    payment = MobileMoneyPayment.objects.create(
        direction=direction,
        trade_id=trade_id,
        top_up_id=top_up_id,
        user=user,
        reference=_new_reference(direction),
        msisdn=msisdn.e164,
        msisdn_hash=lookup_hash(msisdn.e164),
        provider=msisdn.provider,
        amount=amount,
        currency=currency,
        next_poll_at=timezone.now() + settings.RELWORX_POLL_AFTER,
    )
    if submit:
        payment_id = payment.pk
        transaction.on_commit(lambda: _submit_queue(payment_id))
    return payment


def _submit_queue(payment_id: int) -> None:
    """Queue the submission (after commit). The payment is committed by now:
    a broker (or Redis) that cannot take the task must not turn the caller's
    answer into an error, since the trade and its payment exist. The poller submits any
    pending request that never went out (mobile_money_poll)."""
    from dtexchange.errors import is_service_unavailable
    from payments.tasks import mobile_money_submit_task

    try:
        mobile_money_submit_task.delay(payment_id)
    except Exception as exc:
        if not is_service_unavailable(exc):
            raise  # a bug, not an outage: it must be seen
        log.warning(
            "momo.submit.queue_failed",
            payment_id=payment_id,
            error=f"{type(exc).__name__}: {exc}"[:300],
            exc_info=True,
        )


def _description(payment: MobileMoneyPayment) -> str:
    if payment.top_up_id:
        return "DT Exchange wallet top-up"
    what = "purchase" if payment.direction == Direction.COLLECTION else "payout"
    trade = f" trade {payment.trade_id}" if payment.trade_id else ""
    return f"DT Exchange {what}{trade}"


def _update(payment_id: int, **fields) -> None:
    MobileMoneyPayment.objects.filter(pk=payment_id).update(updated_at=timezone.now(), **fields)


def _wait(payment: MobileMoneyPayment, reason: str, exc: RelworxError) -> str:
    """The request could not go out (or its answer was a refusal of a resend):
    it stays pending, with why, and the poller tries again."""
    _update(
        payment.pk,
        waiting_reason=reason,
        error_code=exc.error_code[:64],
        last_status_raw=redact({"submit_error": exc.message, "http_status": exc.status_code}),
    )
    log.warning(
        "momo.submit.waiting",
        reference=payment.reference,
        reason=reason,
        status=exc.status_code,
        error_code=exc.error_code,
    )
    return "waiting"


def _claim(payment: MobileMoneyPayment) -> int | None:
    """Claim the next send of ``payment`` by compare-and-set on what was read
    (attempt number and ``maybe_sent``), recording ``maybe_sent`` before the
    call: a crash or timeout from here on leaves the memory that the request
    may have reached Relworx. Returns the attempt number, or None when the row
    changed since it was read (another attempt, an outcome, a webhook's
    internal reference): then this worker sends nothing."""
    attempt = payment.submit_attempts + 1
    claimed = MobileMoneyPayment.objects.filter(
        Q(internal_reference__isnull=True) | Q(internal_reference=""),
        pk=payment.pk,
        status=Status.PENDING,
        submit_attempts=payment.submit_attempts,
        maybe_sent=payment.maybe_sent,
    ).update(submit_attempts=attempt, maybe_sent=True, updated_at=timezone.now())
    return attempt if claimed == 1 else None


def _unclaim(payment: MobileMoneyPayment, attempt: int) -> None:
    """Attempt ``attempt`` was the first and cannot have reached Relworx (refused
    at connect, 401/403/429, a clean refusal): forget ``maybe_sent`` again, but
    only while no later attempt has been claimed (one that may be on its way)."""
    MobileMoneyPayment.objects.filter(pk=payment.pk, submit_attempts=attempt).update(
        maybe_sent=False, updated_at=timezone.now()
    )


def mobile_money_submit(*, payment_id: int, client: RelworxClient | None = None) -> str:
    """Send the request to Relworx (again, with the same reference, if needed).

    Must run outside a transaction. Before the first send of a payout, the
    payout safeguards run (validate the number, check our float; see
    payments.services.payouts). ``maybe_sent`` is recorded before each send,
    so a Celery retry or the poller's resend knows an earlier attempt may have
    gone out: a refusal then (e.g. "duplicate reference") leaves the request
    pending for the status check, never failed. Only a clean refusal of a
    request nothing can have delivered fails it. 401/403 (our configuration)
    and 429 leave it waiting and tell staff.

    A collection whose trade was cancelled or expired before anything was
    sent is not sent (the payment fails: nobody is prompted for a closed order).

    One worker at a time sends a given request: the others (a Celery retry,
    the poller, the health check) return "in_progress" without calling
    Relworx, and the attempt is claimed by compare-and-set before the call.

    Returns "submitted", "already_submitted", "not_pending", "waiting",
    "trade_closed", "failed", "in_progress"; raises RelworxUnavailable when
    Relworx could not be reached or gave no clear answer (the caller retries
    later).
    """
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("mobile_money_submit calls Relworx: never inside a transaction.")
    # One sender at a time, without waiting (payments/sql.py).
    if not sql.sending_lock_try(payment_id=payment_id):
        log.info("momo.submit.in_progress", payment_id=payment_id)
        return "in_progress"
    try:
        # Read under the lock: an attempt that finished meanwhile is seen.
        payment = MobileMoneyPayment.objects.get(pk=payment_id)
        if payment.status != Status.PENDING:
            return "not_pending"
        if payment.internal_reference:
            return "already_submitted"
        own_client = client is None
        client = client or RelworxClient.from_settings()
        try:
            return _submit(payment, client)
        finally:
            if own_client:
                client.close()
    finally:
        # A connection that failed took the lock with it.
        with contextlib.suppress(DatabaseError):
            sql.sending_lock_release(payment_id=payment_id)


def _submit(payment: MobileMoneyPayment, client: RelworxClient) -> str:
    from payments.services.payouts import (
        payout_failure_is_definite,
        payout_refusal_is_low_float,
        payout_safeguards_check,
    )
    from payments.services.relworx_health import (
        relworx_low_float_report,
        relworx_refused_report,
        relworx_working_report,
    )

    maybe_sent_before = payment.maybe_sent
    payout = payment.direction == Direction.PAYOUT
    if (
        not payout
        and not maybe_sent_before
        and (
            (payment.trade_id and not trade_is_open(trade_id=payment.trade_id))
            or (payment.top_up_id and not deposit_is_open(deposit_id=payment.top_up_id))
        )
    ):
        # Cancelled or expired before anything was sent (e.g. while Relworx
        # refused us): nobody's phone is prompted for an order that no longer
        # exists. Once an attempt may have gone out, only the status check decides.
        log.info("momo.submit.trade_closed", reference=payment.reference)
        mobile_money_apply_status(
            payment_id=payment.pk,
            status=STATUS_FAILED,
            message="The order was closed before the payment was requested.",
            raw={"not_submitted": "trade_closed"},
            source="submit",
        )
        return "trade_closed"
    if payout and not maybe_sent_before:
        from switches.selectors import account_freeze_active

        if account_freeze_active(user_id=payment.user_id) is not None:
            # Staff froze the account: nothing leaves until the freeze is
            # lifted; the poll resubmits it then (same reference).
            _update(payment.pk, waiting_reason="account_frozen")
            log.warning("momo.payout.frozen", reference=payment.reference)
            return "waiting"
        check = payout_safeguards_check(
            client=client, msisdn=payment.msisdn, amount=payment.amount, currency=payment.currency
        )
        if check.customer_name and check.customer_name != payment.customer_name:
            _update(payment.pk, customer_name=check.customer_name[:255])
        if not check.ok:
            _update(payment.pk, waiting_reason=check.waiting_reason)
            log.warning(
                "momo.payout.waiting", reference=payment.reference, reason=check.waiting_reason
            )
            return "waiting"
    attempt = _claim(payment)
    if attempt is None:
        log.info("momo.submit.claimed_elsewhere", reference=payment.reference)
        return "in_progress"
    call = client.send_payment if payout else client.request_payment
    try:
        accepted = call(
            reference=payment.reference,
            msisdn=payment.msisdn,
            amount=payment.amount,
            currency=payment.currency,
            description=_description(payment),
        )
    except RelworxRefused as exc:
        relworx_refused_report(detail=f"HTTP {exc.status_code}: {exc.message}")
        if not maybe_sent_before:
            _unclaim(payment, attempt)
        return _wait(payment, "relworx_refused", exc)
    except RelworxThrottled as exc:
        if not maybe_sent_before:
            _unclaim(payment, attempt)
        return _wait(payment, "relworx_throttled", exc)
    except RelworxRejected as exc:
        if payout and payout_refusal_is_low_float(exc):
            relworx_low_float_report(balance="?", needed=payment.amount, currency=payment.currency)
            if not maybe_sent_before:
                _unclaim(payment, attempt)
            return _wait(payment, "low_float", exc)
        if not payout_failure_is_definite(maybe_sent_before=maybe_sent_before, error=exc):
            # e.g. a resend answered "duplicate reference": the first attempt
            # may have been accepted. The status check decides.
            return _wait(payment, "ambiguous", exc)
        log.warning("momo.submit.rejected", reference=payment.reference, message=exc.message)
        _update(payment.pk, error_code=exc.error_code[:64])
        _unclaim(payment, attempt)
        return mobile_money_apply_status(
            payment_id=payment.pk,
            status=STATUS_FAILED,
            message=exc.message,
            raw={
                "submit_error": exc.message,
                "http_status": exc.status_code,
                "error_code": exc.error_code,
            },
            source="submit",
        )
    except RelworxUnavailable as exc:
        if not exc.may_have_reached and not maybe_sent_before:
            _unclaim(payment, attempt)  # refused at connect: nothing went out
        log.warning("momo.submit.unavailable", reference=payment.reference, error=exc.message)
        raise
    relworx_working_report()
    with transaction.atomic():
        locked = MobileMoneyPayment.objects.select_for_update().get(pk=payment.pk)
        if not locked.internal_reference:
            # A webhook may have brought the internal reference first; keep it.
            locked.internal_reference = accepted.internal_reference
        locked.submitted_at = locked.submitted_at or timezone.now()
        locked.waiting_reason = ""
        locked.save(
            update_fields=["internal_reference", "submitted_at", "waiting_reason", "updated_at"]
        )
    log.info("momo.submitted", reference=payment.reference, direction=payment.direction)
    if payment.direction == Direction.COLLECTION and payment.trade_id:
        _mark_processing(payment.trade_id)
    if payment.direction == Direction.COLLECTION and payment.top_up_id:
        from wallet.services import top_up_mark_processing

        top_up_mark_processing(deposit_id=payment.top_up_id)
    return "submitted"


def _mark_processing(trade_id: int) -> None:
    """Relworx accepted the collection: the customer is being prompted."""
    from dtexchange.errors import NotFound
    from trading.services import trade_mark_processing
    from trading.services.trades import TradeNotSettleable

    # Already settled by a fast webhook, expired, ...: nothing to mark.
    with contextlib.suppress(TradeNotSettleable, NotFound):
        trade_mark_processing(trade_id=trade_id, actor="system:relworx")


def _next_poll_delay(attempts: int) -> timedelta:
    delay = settings.RELWORX_POLL_AFTER * (2 ** min(attempts, 16))
    return min(delay, settings.RELWORX_POLL_MAX_INTERVAL)


def _find_on_statement(payment: MobileMoneyPayment, client: RelworxClient) -> str:
    """For a request that may have reached Relworx but whose answer we never
    got: find our reference in Relworx's transaction list and adopt its
    internal reference (then the status check can be asked)."""
    try:
        rows = client.transactions()
    except RelworxError as exc:
        log.warning("momo.statement.error", reference=payment.reference, error=exc.message)
        return ""
    for row in rows:
        if row.customer_reference == payment.reference and row.internal_reference:
            with transaction.atomic():
                locked = MobileMoneyPayment.objects.select_for_update().get(pk=payment.pk)
                if not locked.internal_reference:
                    locked.internal_reference = row.internal_reference
                    locked.submitted_at = locked.submitted_at or timezone.now()
                    locked.save(update_fields=["internal_reference", "submitted_at", "updated_at"])
                return locked.internal_reference
    return ""


def mobile_money_poll(*, payment_id: int, client: RelworxClient | None = None) -> str:
    """Ask Relworx for the status of a pending request and apply it.

    A request without Relworx's internal reference is looked up on Relworx's
    transaction list when an attempt may have reached Relworx, else (or when
    it is not listed) resubmitted with the same reference. Returns the
    applied result; safe to run twice.
    """
    payment = MobileMoneyPayment.objects.get(pk=payment_id)
    if payment.status != Status.PENDING or payment.flagged:
        return "not_pending"
    own_client = client is None
    client = client or RelworxClient.from_settings()
    try:
        internal = payment.internal_reference
        if not internal and payment.maybe_sent:
            internal = _find_on_statement(payment, client)
        if not internal:
            try:
                result = mobile_money_submit(payment_id=payment.pk, client=client)
            except RelworxUnavailable:
                result = "unavailable"
            _schedule_next_poll(payment.pk)
            return result
        try:
            status = client.check_request_status(internal_reference=internal)
        except RelworxError as exc:
            log.warning("momo.poll.error", reference=payment.reference, error=exc.message)
            if isinstance(exc, RelworxRefused):
                from payments.services.relworx_health import relworx_refused_report

                relworx_refused_report(detail=f"HTTP {exc.status_code}: {exc.message}")
            _schedule_next_poll(payment.pk)
            return "unavailable"
    finally:
        if own_client:
            client.close()
    result = mobile_money_apply_status(
        payment_id=payment.pk,
        status=status.status,
        amount=status.amount,
        currency=status.currency,
        internal_reference=status.internal_reference,
        message=status.message,
        charge=status.charge,
        provider_transaction_id=status.provider_transaction_id,
        raw=status.raw,
        source="poll",
    )
    if status.status == STATUS_PENDING:
        _schedule_next_poll(payment.pk)
    return result


def _schedule_next_poll(payment_id: int) -> None:
    with transaction.atomic():
        payment = MobileMoneyPayment.objects.select_for_update().get(pk=payment_id)
        payment.attempts += 1
        payment.next_poll_at = timezone.now() + _next_poll_delay(payment.attempts)
        payment.save(update_fields=["attempts", "next_poll_at", "updated_at"])


def redact(raw: dict | None) -> dict:
    """Relworx payloads name the phone number: keep only its masked form at rest."""
    clean = dict(raw or {})
    if isinstance(clean.get("msisdn"), str):
        number = clean["msisdn"]
        clean["msisdn"] = f"{number[:6]}***{number[-3:]}" if len(number) > 9 else "***"
    return clean


def webhook_signed_fields(payload: dict) -> dict:
    """The part of a webhook its signature covers (references and status)."""
    return {name: payload[name] for name in SIGNED_FIELDS if name in payload}


def _flag(payment: MobileMoneyPayment, reason: str) -> None:
    log.error("momo.flagged", reference=payment.reference, reason=reason)
    payment.flagged = True
    payment.flag_reason = (payment.flag_reason + "\n" + reason).strip()
    payment.resolved_at = None  # something new to look at, even if resolved before


@transaction.atomic
def mobile_money_apply_status(
    *,
    payment_id: int,
    status: str,
    source: str,
    amount: Decimal | None = None,
    currency: str = "",
    internal_reference: str = "",
    message: str = "",
    charge: Decimal | None = None,
    provider_transaction_id: str = "",
    raw: dict | None = None,
) -> str:
    """Apply one Relworx outcome to a payment, under its row lock.

    Called with what the status check said (the poller), or by a submission
    Relworx refused outright. Webhooks never call this with their own unsigned
    amount: they make the poller ask (see webhooks).

    ``status`` is Relworx's (pending/success/failed). Returns what happened:
    "pending", "succeeded", "failed", "duplicate", "flagged". Moving out of
    pending happens once (compare-and-set); a success whose amount or currency
    differs from the request is not applied but flagged.
    """
    if source == "webhook":
        # Only the references and the status of a webhook are signed: its
        # amount, currency, charge and message are nobody's word, so none of
        # them is kept or used (the status check brings them).
        raw = webhook_signed_fields(raw or {})
        amount, currency, charge, provider_transaction_id, message = None, "", None, "", ""
    payment = MobileMoneyPayment.objects.select_for_update().get(pk=payment_id)
    payment.last_status_raw = redact(raw)
    fields = ["last_status_raw", "updated_at", "flagged", "flag_reason", "resolved_at"]
    if charge is not None and payment.charge != charge:
        payment.charge = charge
        fields.append("charge")
    if provider_transaction_id and payment.provider_transaction_id != provider_transaction_id:
        payment.provider_transaction_id = provider_transaction_id[:128]
        fields.append("provider_transaction_id")
    if payment.waiting_reason and status in (STATUS_SUCCESS, STATUS_FAILED, STATUS_PENDING):
        payment.waiting_reason = ""  # Relworx has the request and answered for it
        fields.append("waiting_reason")

    if internal_reference:
        if not payment.internal_reference:
            payment.internal_reference = internal_reference
            fields.append("internal_reference")
        elif payment.internal_reference != internal_reference:
            _flag(payment, f"{source}: internal_reference {internal_reference} does not match")
            payment.save(update_fields=fields)
            return "flagged"

    if status == STATUS_PENDING:
        payment.save(update_fields=fields)
        return "pending"

    target = {STATUS_SUCCESS: Status.SUCCEEDED, STATUS_FAILED: Status.FAILED}.get(status)
    if target is None:
        _flag(payment, f"{source}: unknown status {status!r}")
        payment.save(update_fields=fields)
        return "flagged"
    if payment.status != Status.PENDING:
        if payment.status != target:
            _flag(payment, f"{source}: {status} arrived after the payment was {payment.status}")
            if target == Status.SUCCEEDED and amount is not None:
                # The status check's word (never a webhook's): shown to the
                # person who resolves the flag.
                payment.amount_received = amount
                fields.append("amount_received")
            payment.save(update_fields=fields)
            if target == Status.SUCCEEDED:
                _post_charge(payment)  # Relworx took its charge on that success
            return "flagged"
        payment.save(update_fields=fields)
        _post_charge(payment)  # a charge reported after the outcome
        return "duplicate"

    if target == Status.SUCCEEDED:
        if amount is not None:
            payment.amount_received = amount
            fields.append("amount_received")
        if amount != payment.amount or (currency or payment.currency) != payment.currency:
            _flag(
                payment,
                f"{source}: Relworx reports {amount} {currency or '?'}, "
                f"we asked for {payment.amount} {payment.currency}; not settled",
            )
            payment.save(update_fields=fields)
            # Relworx took its charge on this success whatever the person
            # resolving the flag decides about the money: booked now, once.
            _post_charge(payment)
            return "flagged"

    now = timezone.now()
    updated = MobileMoneyPayment.objects.filter(pk=payment.pk, status=Status.PENDING).update(
        status=target, completed_at=now
    )
    if updated != 1:  # unreachable while we hold the lock; kept as the backstop
        return "duplicate"
    payment.status = target
    payment.completed_at = now
    if target == Status.FAILED:
        payment.failure_reason = message or "The mobile money payment failed."
        fields.append("failure_reason")
    payment.save(update_fields=fields)
    log.info("momo.outcome", reference=payment.reference, status=target, source=source)
    _apply_effect(payment, source)
    _post_charge(payment)
    return str(target)


def _post_charge(payment: MobileMoneyPayment) -> None:
    """Relworx's fee for a decided transaction, booked once: the mobile-money
    clearing account mirrors the Relworx wallet (which pays the charge), the
    fee is our expense (the ``relworx_fees`` account). UGX has no minor unit
    and Relworx reports charges in tenths: the books take it rounded up to a
    whole UGX (never understating the cost); the exact charge stays on the
    payment."""
    from ledger.errors import IdempotencyKeyReused
    from payments.services.effects import post_relworx_charge

    if payment.charge is None or payment.charge <= 0:
        return
    try:
        post_relworx_charge(payment)
    except IdempotencyKeyReused:
        # Booked once already, for another figure: the books keep the first
        # (nothing is written twice); a person compares it with Relworx's.
        _flag(payment, f"Relworx now reports a charge of {payment.charge}, another was booked")
        payment.save(update_fields=["flagged", "flag_reason", "resolved_at", "updated_at"])


def _apply_effect(payment: MobileMoneyPayment, source: str) -> None:
    """The trade side of a final outcome, in this same transaction (see effects)."""
    from payments.services.effects import apply_outcome
    from trading.services.trades import TradeNotSettleable
    from wallet.errors import WithdrawalNotSettleable
    from wallet.services import TopUpNotSettleable

    try:
        with transaction.atomic():
            payment.outcome = apply_outcome(payment)
    except (TradeNotSettleable, WithdrawalNotSettleable, TopUpNotSettleable) as exc:
        # e.g. a payout reported for a trade that is not in payout any more:
        # keep the payment's status, leave the trade alone, ask a person.
        payment.outcome = "needs_review"
        _flag(payment, f"{source}: the trade could not take this outcome ({exc.message})")
    payment.save(update_fields=["outcome", "flagged", "flag_reason", "resolved_at", "updated_at"])
