"""Top-ups of the fiat wallet: start one, then its method reports the outcome.

Rules kept here:
* A top-up's status moves only by compare-and-set under its row lock:
  ``pending → processing → completed | failed | expired``; money that
  arrives after expiry still completes it (money that arrived is never lost).
* Completion credits the wallet with one ``ledger_post`` whose idempotency
  key is the top-up's (``top_up:<id>:credit``): funding account -amount
  received, fee revenue +fee, the user's wallet +net. However often the
  method reports success (webhook, poll, a person), the money moves once.
* Limits: the top-up limit is used when the top-up starts (409
  ``limit_exceeded``, nothing written) and counted again on the amount that
  arrived; money arriving past a limit is credited and the top-up flagged
  for staff. A top-up that fails or expires gives its use back.
* Each change is published as ``deposit.updated`` (the owner's socket; an
  email when completed) through the outbox, in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services import user_verified_require
from dtexchange.errors import Conflict, InvalidInput
from ledger.errors import IdempotencyKeyReused
from ledger.models import AccountKind, LedgerAccount
from ledger.money import currency as currency_info
from ledger.money import fmt, has_valid_precision, quantize
from ledger.services import house_account, ledger_post, wallet_account
from notifications.services import outbox_emit
from wallet import topup_methods
from wallet.limits import limit_consume, limit_release
from wallet.models import OPEN_DEPOSIT_STATUSES, Deposit, DepositStatus
from wallet.selectors import deposit_as_dict
from wallet.services.common import IDEMPOTENCY_KEY_PATTERN

log = structlog.get_logger(__name__)

_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)


class TopUpNotSettleable(Conflict):
    code = "conflict"
    message = "This top-up cannot take that outcome."


def _bad(field: str, message: str, code: str = "invalid_amount") -> InvalidInput:
    return InvalidInput(message, code=code, details={field: [message]})


def _fee(amount: Decimal, currency: str, rate: Decimal) -> tuple[Decimal, Decimal]:
    """(fee, net): the user's side rounded down, the fee the exact rest."""
    net = quantize(amount * (1 - rate), currency)
    return amount - net, net


def _limit_reference(deposit: Deposit) -> str:
    return f"top_up:{deposit.public_id}"


def _emit(deposit: Deposit, *, previous: str) -> None:
    outbox_emit(
        kind="deposit.updated",
        user_id=deposit.user_id,
        payload={**deposit_as_dict(deposit), "previous_status": previous},
    )


def _fingerprint(**params) -> str:
    canonical = json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class OpenedTopUp:
    """What starting a top-up did: ``replayed`` when an earlier request with
    the same Idempotency-Key and body had started it."""

    deposit: Deposit
    replayed: bool


def _replay(*, user, key: str, fingerprint: str) -> Deposit | None:
    deposit = Deposit.objects.filter(user_id=user.pk, idempotency_key=key).first()
    if deposit is None:
        return None
    if deposit.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request.",
            details={"idempotency_key": key},
        )
    return deposit


def _check_amount(method, currency: str, amount: Decimal) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise _bad("amount", "Must be greater than zero.")
    if not has_valid_precision(amount, currency):
        places = currency_info(currency).precision
        raise _bad(
            "amount",
            f"{currency} amounts have at most {places} decimal places.",
            code="too_many_decimals",
        )
    bounds = method.limits(currency)
    if bounds:
        low, high = bounds
        if amount < low:
            raise _bad("amount", f"The minimum is {low} {currency}.", "amount_below_minimum")
        if amount > high:
            raise _bad("amount", f"The maximum is {high} {currency}.", "amount_above_maximum")


def top_up_open(
    *,
    user,
    currency: str,
    amount: Decimal,
    method: str,
    payment_details: dict | None = None,
    idempotency_key: str | None = None,
) -> OpenedTopUp:
    """Start a top-up of ``amount`` (what the user pays, the method's fee
    included) by ``method``. Validates the method, currency, amount and
    details (400), the method's availability (409
    ``payment_method_unavailable``) and the user's top-up limits (409
    ``limit_exceeded``); then, in one transaction, writes the top-up
    ``pending`` and has the method start the outside payment (a mobile-money
    prompt is sent after commit). Any refusal writes nothing.

    ``Idempotency-Key``: the same key with the same request returns the first
    top-up (``replayed``); with another request, 409
    ``idempotency_key_reused``. ``top_up_start`` is the same, returning only
    the top-up."""
    user_verified_require(user=user)
    if idempotency_key is not None and not _KEY_RE.fullmatch(idempotency_key):
        raise InvalidInput(
            "Idempotency-Key must be 1 to 128 visible ASCII characters.",
            code="invalid_idempotency_key",
            details={"idempotency_key": ["1 to 128 printable characters."]},
        )
    payment_details = payment_details or {}
    fingerprint = _fingerprint(
        currency=currency,
        amount=str(amount.normalize()) if amount.is_finite() else str(amount),
        method=method,
        details=payment_details,
    )
    if idempotency_key:
        replay = _replay(user=user, key=idempotency_key, fingerprint=fingerprint)
        if replay is not None:
            return OpenedTopUp(replay, replayed=True)
    top_up = topup_methods.get(method)
    if currency not in top_up.currencies():
        raise _bad(
            "currency",
            f"{top_up.name} takes {', '.join(top_up.currencies()) or 'no currency'}.",
            "currency_not_supported",
        )
    _check_amount(top_up, currency, amount)
    available, reason = top_up.availability()
    if not available:
        raise Conflict(
            reason or f"{top_up.name} is unavailable right now.",
            code="payment_method_unavailable",
            details={"method": [reason or "Unavailable right now."]},
        )
    details = top_up.clean_details(
        user=user, currency=currency, amount=amount, details=payment_details
    )
    rate = top_up.fee_rate()
    fee, net = _fee(amount, currency, rate)
    try:
        with transaction.atomic():
            deposit = Deposit(
                user=user,
                method=top_up.code,
                currency=currency,
                amount=amount,
                fee_rate=rate,
                fee_amount=fee,
                net_amount=net,
                payment_details=top_up.public_details(details),
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint if idempotency_key else "",
            )
            limit_consume(
                user=user,
                kind="top_up",
                currency=currency,
                amount=amount,
                reference=_limit_reference(deposit),
            )
            with transaction.atomic():  # a same-key race fails here, the replay follows
                deposit.save(force_insert=True)
            instructions = top_up.start(deposit=deposit, details=details) or {}
            deposit.instructions = {k: v for k, v in instructions.items() if k != "reference_code"}
            deposit.reference_code = str(instructions.get("reference_code") or "")
            deposit.save(update_fields=["instructions", "reference_code", "updated_at"])
            deposit.response_body = deposit_as_dict(deposit) if idempotency_key else None
            if idempotency_key:
                Deposit.objects.filter(pk=deposit.pk).update(response_body=deposit.response_body)
            _emit(deposit, previous="")
    except IntegrityError:
        if idempotency_key:
            replay = _replay(user=user, key=idempotency_key, fingerprint=fingerprint)
            if replay is not None:
                return OpenedTopUp(replay, replayed=True)
        raise
    log.info("top_up.started", deposit=str(deposit.public_id), method=method, currency=currency)
    return OpenedTopUp(deposit, replayed=False)


def top_up_start(**kwargs) -> Deposit:
    """``top_up_open`` for callers that do not ask whether it was a replay."""
    return top_up_open(**kwargs).deposit


def _lock(deposit_id: int) -> Deposit:
    return Deposit.objects.select_for_update().get(pk=deposit_id)


def _move(deposit: Deposit, *, to: str, **fields) -> bool:
    previous = deposit.status
    now = timezone.now()
    changed = Deposit.objects.filter(pk=deposit.pk, status=previous).update(
        status=to, updated_at=now, **fields
    )
    if changed != 1:  # unreachable under the row lock; the CAS is the backstop
        return False
    deposit.status, deposit.updated_at = to, now
    for name, value in fields.items():
        setattr(deposit, name, value)
    _emit(deposit, previous=previous)
    return True


@transaction.atomic
def top_up_mark_processing(*, deposit_id: int) -> Deposit:
    """pending → processing (the outside payment is under way). Idempotent;
    any other state is left as it is."""
    deposit = _lock(deposit_id)
    if deposit.status == DepositStatus.PENDING:
        _move(deposit, to=DepositStatus.PROCESSING)
    return deposit


@transaction.atomic
def top_up_complete(
    *,
    deposit_id: int,
    funding_account: LedgerAccount,
    amount_received: Decimal,
    actor: str,
    reason: str = "",
) -> Deposit:
    """The top-up's money arrived (``amount_received`` on ``funding_account``,
    the method's clearing account): credit the wallet, once.

    Locks the top-up row, then the user's limit row, then (ledger_post) the
    accounts. Pending, processing or expired → completed with one posting
    (key ``top_up:<id>:credit``): funding -received, fee revenue +fee, wallet
    +net, the fee at the top-up's rate on what was received. Completed
    already → returned unchanged (a repeated report moves nothing). Failed →
    TopUpNotSettleable (409): the method decided otherwise before, a person
    looks. Passing a limit never stops the credit: the top-up is flagged."""
    deposit = _lock(deposit_id)
    if deposit.status == DepositStatus.COMPLETED:
        return deposit
    if deposit.status == DepositStatus.FAILED:
        raise TopUpNotSettleable(
            "This top-up failed already; money reported for it needs a person.",
            details={"deposit_id": str(deposit.public_id), "status": deposit.status},
        )
    currency = deposit.currency
    received = quantize(amount_received, currency)
    if received <= 0 or received != amount_received:
        raise InvalidInput("The amount received must be a positive amount.", code="invalid_amount")
    fee, net = _fee(received, currency, deposit.fee_rate)
    passed = limit_consume(
        user=deposit.user,
        kind="top_up",
        currency=currency,
        amount=received,
        reference=_limit_reference(deposit),
        allow_over=True,
    )
    entries = [
        (funding_account, -received),
        (wallet_account(user=deposit.user, currency=currency), net),
    ]
    if fee:
        entries.append((house_account(kind=AccountKind.FEE_REVENUE, currency=currency), fee))
    description = f"Top-up by {deposit.method}: {fmt(received, currency)} received"
    if fee:
        description += f", fee {fmt(fee, currency)}"
    txn = ledger_post(
        kind="top_up",
        idempotency_key=f"top_up:{deposit.public_id}:credit",
        entries=entries,
        description=description[:500],
        actor=actor[:200],
        reference=(deposit.reference_code or str(deposit.public_id))[:100],
    )
    flag_reason = deposit.flag_reason
    if passed:
        names = ", ".join(s.name for s in passed)
        flag_reason = (flag_reason + f"\nCredited past the limit: {names}.").strip()
    now = timezone.now()
    _move(
        deposit,
        to=DepositStatus.COMPLETED,
        amount_received=received,
        fee_amount=fee,
        net_amount=net,
        ledger_transaction=txn,
        completed_at=now,
        flagged=deposit.flagged or bool(passed),
        flag_reason=flag_reason,
        failure_reason="",
    )
    log.info(
        "top_up.completed",
        deposit=str(deposit.public_id),
        received=str(received),
        net=str(net),
        reason=reason,
        over_limit=bool(passed),
    )
    return deposit


@transaction.atomic
def top_up_fail(*, deposit_id: int, reason: str, actor: str) -> Deposit:
    """The payment failed or was rejected: pending/processing → failed
    (nothing was charged), the limit use given back. A failed or expired
    top-up is returned as it is; a completed one is refused
    (TopUpNotSettleable)."""
    deposit = _lock(deposit_id)
    if deposit.status in (DepositStatus.FAILED, DepositStatus.EXPIRED):
        return deposit  # an expired top-up keeps saying so (its use was given back)
    if deposit.status == DepositStatus.COMPLETED:
        raise TopUpNotSettleable(
            details={"deposit_id": str(deposit.public_id), "status": deposit.status}
        )
    _move(deposit, to=DepositStatus.FAILED, failure_reason=reason[:255])
    limit_release(reference=_limit_reference(deposit))
    log.info("top_up.failed", deposit=str(deposit.public_id), reason=reason, actor=actor)
    return deposit


@transaction.atomic
def top_up_expire(*, deposit_id: int) -> Deposit | None:
    """No money came in time: pending/processing → expired, the limit use
    given back. None when it was not open. Money that still arrives is
    credited (top_up_complete takes an expired top-up)."""
    deposit = _lock(deposit_id)
    if deposit.status not in OPEN_DEPOSIT_STATUSES:
        return None
    _move(deposit, to=DepositStatus.EXPIRED, failure_reason="No payment arrived in time.")
    limit_release(reference=_limit_reference(deposit))
    return deposit


def top_ups_expire(*, limit: int = 500) -> list[int]:
    """Expire the open top-ups older than their method's ``pending_ttl``."""
    now = timezone.now()
    expired = []
    for method in topup_methods.all_methods():
        ids = list(
            Deposit.objects.filter(
                method=method.code,
                status__in=OPEN_DEPOSIT_STATUSES,
                created_at__lte=now - method.pending_ttl(),
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        for deposit_id in ids:
            if top_up_expire(deposit_id=deposit_id) is not None:
                expired.append(deposit_id)
    return expired
