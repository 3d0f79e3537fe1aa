"""Withdrawals: create (the amount leaves the wallet at once), confirm with
the second factor, cancel, expire, and the payout's outcome.

Locks: a new withdrawal takes the user's wallet row in its currency first
(``wallet_account_lock``), so parallel withdrawals of one user queue and
cannot spend the same balance twice (the ledger's CHECK is the backstop).
Every later step locks the withdrawal's row first, then the wallet (when
money goes back), then the posting's house accounts. Providers (Relworx's
validate) are asked before any lock is taken.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.security import account_is_locked
from accounts.services import user_verified_require
from dtexchange.errors import InvalidInput
from ledger import money
from ledger.errors import IdempotencyKeyReused
from ledger.models import AccountKind
from ledger.services import wallet_account_lock
from switches.selectors import money_out_stop_check
from wallet import payouts
from wallet.errors import (
    AccountLocked,
    ConfirmationExpired,
    NotAwaitingConfirmation,
    WithdrawalNotCancellable,
    WithdrawalNotFound,
    WithdrawalNotSettleable,
    WrongCode,
)
from wallet.limits import limit_consume, wallet_profile_lock
from wallet.models import PayoutNumber, Withdrawal
from wallet.second_factor import attempts_left, code_check, code_issue
from wallet.selectors import payout_number_live
from wallet.services.common import (
    IDEMPOTENCY_KEY_PATTERN,
    actor_for,
    code_send_on_commit,
    limit_reference,
    money_hold,
    money_pay_out,
    money_return,
    security_cooldown_check,
    transition,
    withdrawal_email,
    withdrawal_event,
    withdrawal_lock,
)

Status = Withdrawal.Status
Method = Withdrawal.Method

_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)
_ACCOUNT_NUMBER_RE = re.compile(r"^[A-Za-z0-9]{5,34}$")
BANK_CURRENCIES = ("UGX", "USD")


def _bad(field: str, message: str, code: str = "invalid_input") -> InvalidInput:
    return InvalidInput(message, code=code, details={field: [message]})


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not _KEY_RE.fullmatch(key):
        raise InvalidInput(
            "Idempotency-Key must be 1 to 128 visible ASCII characters.",
            code="invalid_idempotency_key",
            details={"idempotency_key": ["1 to 128 printable characters."]},
        )
    return key


@dataclass(frozen=True)
class OpenedWithdrawal:
    """What opening a withdrawal did: ``replayed`` when an earlier request
    with the same Idempotency-Key and body had made it."""

    withdrawal: Withdrawal
    replayed: bool


def _fingerprint(**params) -> str:
    canonical = json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(*, user, key: str | None, fingerprint: str) -> Withdrawal | None:
    if key is None:
        return None
    found = Withdrawal.objects.filter(user=user, idempotency_key=key).first()
    if found is None:
        return None
    if found.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request.",
            details={"idempotency_key": key},
        )
    return found


def withdrawal_amounts(*, method: str, currency: str, amount: Decimal) -> tuple[Decimal, Decimal]:
    """(fee, net) of a withdrawal of ``amount``, checked against the method's
    currencies and bounds. The user's side (net) is rounded down; the fee is
    the exact remainder."""
    if currency not in settings.WITHDRAWAL_LIMITS.get(method, {}):
        takes = ", ".join(settings.WITHDRAWAL_LIMITS.get(method, {})) or "nothing"
        raise _bad("currency", f"This method takes {takes} only.", "currency_not_supported")
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise _bad("amount", "The amount must be more than zero.", "invalid_amount")
    if not money.has_valid_precision(amount, currency):
        places = money.currency(currency).precision
        raise _bad(
            "amount", f"{currency} amounts have at most {places} decimals.", "too_many_decimals"
        )
    low, high = settings.WITHDRAWAL_LIMITS[method][currency]
    if amount < low:
        raise _bad("amount", f"The minimum is {money.fmt(low, currency)}.", "amount_below_minimum")
    if amount > high:
        raise _bad("amount", f"The maximum is {money.fmt(high, currency)}.", "amount_above_maximum")
    rate = settings.WITHDRAWAL_FEE_RATES[method]
    net = money.quantize(amount * (1 - rate), currency)
    fee = amount - net
    if net <= 0:
        raise _bad("amount", "The amount does not cover the fee.", "amount_too_small")
    return fee, net


def _bank_destination(destination: dict[str, Any]) -> tuple[dict, dict]:
    """(masked for screens, clear for the sealed copy)."""
    clean = {}
    for name, limit in (("bank_name", 100), ("account_name", 150), ("account_number", 34)):
        value = destination.get(name)
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
            raise _bad(f"destination.{name}", f"Enter the {name.replace('_', ' ')}.")
        clean[name] = " ".join(value.split())
    number = clean["account_number"].replace(" ", "")
    if not _ACCOUNT_NUMBER_RE.fullmatch(number):
        raise _bad(
            "destination.account_number", "Enter the account number: 5 to 34 letters or digits."
        )
    clean["account_number"] = number
    shown = {
        "bank_name": clean["bank_name"],
        "account_name": clean["account_name"],
        "account_number": "*" * max(0, len(number) - 4) + number[-4:],
    }
    return shown, clean


def withdrawal_open(
    *,
    user,
    currency: str,
    amount: Decimal,
    method: str,
    destination: dict[str, Any],
    idempotency_key: str | None = None,
) -> OpenedWithdrawal:
    """Open a withdrawal, ``awaiting_confirmation`` until ``confirm_by``.

    The amount leaves the wallet at once, under the wallet's lock, into the
    withdrawal-hold account (409 insufficient_balance when it does not
    cover it; nothing written). The second factor is chosen (the user's
    authenticator, else a code emailed after commit). A mobile-money number
    the user has not saved yet becomes a payout number awaiting confirmation:
    confirming the withdrawal confirms it. Idempotent on ``idempotency_key``
    (same body: the same withdrawal, ``replayed``; another body: 409).
    ``withdrawal_create`` is the same, returning only the withdrawal."""
    user_verified_require(user=user)
    if account_is_locked(user):
        raise AccountLocked()
    key = _check_key(idempotency_key)
    destination = destination if isinstance(destination, dict) else {}
    fingerprint = _fingerprint(
        currency=currency, amount=str(amount), method=method, destination=destination
    )
    if (found := _replay(user=user, key=key, fingerprint=fingerprint)) is not None:
        return OpenedWithdrawal(found, replayed=True)
    if method not in (Method.MOBILE_MONEY, Method.BANK):
        raise _bad("method", "Choose mobile_money or bank.", "method_not_supported")
    fee, net = withdrawal_amounts(method=method, currency=currency, amount=amount)
    sealer = payouts.sealer()
    number = None
    holder_name = ""
    if method == Method.MOBILE_MONEY:
        payout = payouts.get(Method.MOBILE_MONEY)
        number = payout.number_parse(
            value=destination.get("phone_number"), field="destination.phone_number"
        )
        security_cooldown_check(user=user)
        now = payout.availability()
        if not now["available"]:
            raise payouts.PayoutUnavailable(now["reason"] or None)
        saved = payout_number_live(user=user, lookup_hash=number.lookup_hash)
        if saved is not None and saved.holder_name:
            holder_name = saved.holder_name
        else:
            holder_name = payout.holder_name(number=number) or ""
        shown = {"phone_number": number.masked, "provider": number.provider}
        shown["holder_name"] = holder_name or None
        sealed = sealer.seal(json.dumps({"phone_number": number.e164, "provider": number.provider}))
    else:
        shown, clear = _bank_destination(destination)
        sealed = sealer.seal(json.dumps(clear))
        security_cooldown_check(user=user)

    money_out_stop_check(user_id=user.pk)
    with transaction.atomic():
        # The user's limit lock first, then the wallet (the lock order of every
        # money path that counts against a limit).
        wallet_profile_lock(user=user)
        # A request with the same key that committed while we waited for the lock.
        if (found := _replay(user=user, key=key, fingerprint=fingerprint)) is not None:
            return OpenedWithdrawal(found, replayed=True)
        public_id = uuid.uuid4()
        limit_consume(
            user=user,
            kind="withdrawal",
            currency=currency,
            amount=amount,
            reference=limit_reference(public_id),
        )
        wallet = wallet_account_lock(user=user, currency=currency)
        now = timezone.now()
        withdrawal = Withdrawal(
            public_id=public_id,
            user=user,
            currency=currency,
            amount=amount,
            fee_amount=fee,
            net_amount=net,
            method=method,
            destination=shown,
            destination_sealed=sealed,
            idempotency_key=key,
            request_fingerprint=fingerprint if key else "",
            confirm_by=now + settings.WITHDRAWAL_CONFIRM_TTL,
            created_at=now,
            updated_at=now,
        )
        code = code_issue(withdrawal, user=user)
        if number is not None:
            withdrawal.payout_number = _payout_number_for(
                user=user, number=number, holder_name=holder_name, sealed=sealer.seal(number.e164)
            )
        try:
            with transaction.atomic():
                withdrawal.save(force_insert=True)
        except IntegrityError:
            # Another key holder of this user in another currency committed first.
            found = _replay(user=user, key=key, fingerprint=fingerprint)
            if found is None:
                raise
            return OpenedWithdrawal(found, replayed=True)
        money_hold(withdrawal, wallet=wallet)
        withdrawal_event(withdrawal, previous="")
        if code is not None:
            code_send_on_commit(user=user, code=code, purpose="withdrawal", obj=withdrawal)
    return OpenedWithdrawal(withdrawal, replayed=False)


def withdrawal_create(**kwargs) -> Withdrawal:
    """``withdrawal_open`` for callers that do not ask whether it was a replay."""
    return withdrawal_open(**kwargs).withdrawal


def _payout_number_for(*, user, number, holder_name: str, sealed: str) -> PayoutNumber:
    saved = payout_number_live(user=user, lookup_hash=number.lookup_hash)
    if saved is not None:
        return saved
    try:
        with transaction.atomic():
            return PayoutNumber.objects.create(
                user=user,
                msisdn_hash=number.lookup_hash,
                msisdn_sealed=sealed,
                phone_masked=number.masked,
                provider=number.provider,
                holder_name=holder_name[:255],
                # Confirmed together with the withdrawal, by its code.
                second_factor="",
            )
    except IntegrityError:  # added at the same moment by another request
        return payout_number_live(user=user, lookup_hash=number.lookup_hash)


def _locked_for_user(*, user, withdrawal_id) -> Withdrawal:
    pk = (
        Withdrawal.objects.filter(public_id=withdrawal_id, user=user)
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        raise WithdrawalNotFound(details={"id": str(withdrawal_id)})
    return withdrawal_lock(pk=pk)


def _expire(withdrawal: Withdrawal, *, actor: str) -> bool:
    if not transition(withdrawal, to=Status.EXPIRED):
        return False
    money_return(withdrawal, why="expired", actor=actor)
    return True


def withdrawal_confirm(*, user, withdrawal_id, code: str) -> Withdrawal:
    """Confirm with the second factor: ``processing``, and a mobile-money
    payout is recorded (sent after commit); a bank withdrawal joins the staff
    queue. A wrong code counts (400 invalid_code, ``attempts_left``); the
    last allowed wrong code cancels it and returns the money. After
    ``confirm_by`` it expires (money back, 409 confirmation_expired);
    anything but ``awaiting_confirmation`` is 409 not_awaiting_confirmation.
    A payout number first used by this withdrawal is confirmed with it."""
    error = None
    with transaction.atomic():
        withdrawal = _locked_for_user(user=user, withdrawal_id=withdrawal_id)
        if withdrawal.status != Status.AWAITING_CONFIRMATION:
            raise NotAwaitingConfirmation(details={"status": withdrawal.status})
        if timezone.now() >= withdrawal.confirm_by:
            _expire(withdrawal, actor=actor_for(user))
            error = ConfirmationExpired(details={"status": withdrawal.status})
        else:
            security_cooldown_check(user=user)
            money_out_stop_check(user_id=user.pk)
            if code_check(withdrawal, user=user, code=code):
                _start_payout(withdrawal)
            else:
                error = _wrong_code(withdrawal, user=user)
    if error is not None:
        raise error
    return withdrawal


def _wrong_code(withdrawal: Withdrawal, *, user) -> WrongCode:
    withdrawal.code_failures += 1
    Withdrawal.objects.filter(pk=withdrawal.pk).update(code_failures=withdrawal.code_failures)
    left = attempts_left(withdrawal)
    if left == 0 and transition(
        withdrawal, to=Status.CANCELLED, fields={"failure_reason": "Too many wrong codes."}
    ):
        money_return(withdrawal, why="cancelled after too many wrong codes", actor=actor_for(user))
    return WrongCode(
        "That code is not right."
        + (
            " The withdrawal was cancelled and the money is back in your wallet."
            if not left
            else ""
        ),
        details={
            "code": ["That code is not right."],
            "attempts_left": left,
            "status": withdrawal.status,
        },
    )


def _start_payout(withdrawal: Withdrawal) -> None:
    now = timezone.now()
    fields = {
        "confirmed_at": now,
        "code_hash": withdrawal.code_hash,
        "code_salt": withdrawal.code_salt,
        "code_valid_until": withdrawal.code_valid_until,
    }
    if withdrawal.method == Method.MOBILE_MONEY:
        details = json.loads(payouts.sealer().unseal(withdrawal.destination_sealed))
        payout = payouts.get(Method.MOBILE_MONEY)
        number = payout.number_parse(
            value=details["phone_number"], field="destination.phone_number"
        )
        fields["payout_reference"] = payout.payout_start(
            user=withdrawal.user,
            number=number,
            amount=withdrawal.net_amount,
            currency=withdrawal.currency,
        )
        if withdrawal.payout_number_id:
            from wallet.services.payout_numbers import payout_number_mark_confirmed

            payout_number_mark_confirmed(number_id=withdrawal.payout_number_id)
    transition(withdrawal, to=Status.PROCESSING, fields=fields)


def withdrawal_cancel(*, user, withdrawal_id) -> Withdrawal:
    """The owner cancels before confirming: the money is back at once.
    Anything else is 409 withdrawal_not_cancellable."""
    with transaction.atomic():
        withdrawal = _locked_for_user(user=user, withdrawal_id=withdrawal_id)
        if withdrawal.status != Status.AWAITING_CONFIRMATION:
            raise WithdrawalNotCancellable(details={"status": withdrawal.status})
        transition(withdrawal, to=Status.CANCELLED)
        money_return(withdrawal, why="cancelled", actor=actor_for(user))
    return withdrawal


def withdrawal_expire(*, withdrawal_pk: int) -> bool:
    """Expire one withdrawal whose confirmation time passed (money back).
    Safe to run twice or beside a late confirmation (row lock + CAS)."""
    with transaction.atomic():
        withdrawal = withdrawal_lock(pk=withdrawal_pk)
        if withdrawal.status != Status.AWAITING_CONFIRMATION:
            return False
        if timezone.now() < withdrawal.confirm_by:
            return False
        return _expire(withdrawal, actor="system:celery")


def withdrawals_expire_due(*, limit: int = 500) -> int:
    """Expire the withdrawals past ``confirm_by`` (a beat task)."""
    due = list(
        Withdrawal.objects.filter(
            status=Status.AWAITING_CONFIRMATION, confirm_by__lte=timezone.now()
        )
        .order_by("confirm_by")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in due if withdrawal_expire(withdrawal_pk=pk))


def withdrawal_payout_settle(*, reference: str, succeeded: bool, reason: str = "") -> str:
    """The payout method's final outcome of a withdrawal's payout, called in
    the method's own transaction (under its payment's lock). Success: the
    held amount is paid out (net through mobile-money clearing, fee to fee
    revenue), ``completed``. Failure: the amount goes back to the wallet,
    exactly once, ``failed``. A repeat of the same outcome is a no-op
    ("duplicate"); an unknown reference is "no_withdrawal"; a contradiction
    raises WithdrawalNotSettleable (the method flags it for a person)."""
    pk = (
        Withdrawal.objects.filter(payout_reference=reference, method=Method.MOBILE_MONEY)
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        return "no_withdrawal"
    with transaction.atomic():
        withdrawal = withdrawal_lock(pk=pk)
        wanted = Status.COMPLETED if succeeded else Status.FAILED
        if withdrawal.status == wanted:
            return "duplicate"
        if withdrawal.status != Status.PROCESSING:
            raise WithdrawalNotSettleable(details={"status": withdrawal.status})
        actor = "system:relworx"
        if succeeded:
            money_pay_out(withdrawal, clearing_kind=AccountKind.MOBILE_MONEY_CLEARING, actor=actor)
            transition(withdrawal, to=Status.COMPLETED)
            withdrawal_email(withdrawal, template="withdrawal_completed")
            return "withdrawal_completed"
        transition(
            withdrawal,
            to=Status.FAILED,
            fields={"failure_reason": (reason or "The payout failed.")[:255]},
        )
        money_return(withdrawal, why="failed", actor=actor)
        withdrawal_email(withdrawal, template="withdrawal_failed")
        return "withdrawal_refunded"
