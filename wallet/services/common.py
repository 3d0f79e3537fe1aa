"""What the wallet's services share: events, emails, the ledger postings of
a withdrawal's money, and the checks that hold withdrawals back."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ledger.models import AccountKind
from ledger.money import fmt
from ledger.services import house_account, ledger_post, wallet_account_lock
from notifications.services import outbox_emit
from trading.services.trades.opening import IDEMPOTENCY_KEY_PATTERN  # noqa: F401 - the API's one rule
from wallet.errors import SecurityCooldown
from wallet.limits import limit_release
from wallet.models import Withdrawal
from wallet.selectors import withdrawal_as_dict

WITHDRAWAL_EVENT = "withdrawal.updated"


def actor_for(user) -> str:
    return f"user:{user.pk}"


def hold_key(withdrawal: Withdrawal) -> str:
    return f"withdrawal:{withdrawal.public_id}:hold"


def return_key(withdrawal: Withdrawal) -> str:
    # One key for every way the money goes back (cancelled, expired, failed,
    # rejected): whichever comes first posts, any other is a replay.
    return f"withdrawal:{withdrawal.public_id}:return"


def payout_key(withdrawal: Withdrawal) -> str:
    return f"withdrawal:{withdrawal.public_id}:paid"


def security_cooldown_check(*, user) -> None:
    """No withdrawal for ``WITHDRAWAL_COOLDOWN_AFTER_SECURITY_CHANGE`` after a
    password change or a change of authenticator (409 security_cooldown)."""
    changes = [t for t in (user.password_changed_at, user.second_factor_changed_at) if t]
    if not changes:
        return
    until = max(changes) + settings.WITHDRAWAL_COOLDOWN_AFTER_SECURITY_CHANGE
    if timezone.now() < until:
        raise SecurityCooldown(details={"until": until.isoformat().replace("+00:00", "Z")})


def withdrawal_event(withdrawal: Withdrawal, *, previous: str) -> None:
    """``withdrawal_update`` to the owner's sockets, after commit (outbox)."""
    payload = {**withdrawal_as_dict(withdrawal), "previous_status": previous}
    outbox_emit(kind=WITHDRAWAL_EVENT, payload=payload, user_id=withdrawal.user_id)


def withdrawal_email(withdrawal: Withdrawal, *, template: str) -> None:
    """The "withdrawal_completed" / "withdrawal_failed" email (outbox)."""
    code = withdrawal.currency
    subject = (
        f"Your withdrawal of {fmt(withdrawal.net_amount, code)} was paid"
        if template == "withdrawal_completed"
        else "Your withdrawal did not go through — the money is back in your wallet"
    )
    outbox_emit(
        kind=f"email.{template}",
        user_id=withdrawal.user_id,
        payload={
            "to": withdrawal.user.email,
            "subject": subject,
            "context": {
                "amount": fmt(withdrawal.amount, code),
                "fee_amount": fmt(withdrawal.fee_amount, code),
                "net_amount": fmt(withdrawal.net_amount, code),
                "destination": withdrawal.destination.get("phone_number")
                or withdrawal.destination.get("account_number", ""),
                "method": withdrawal.get_method_display(),
                "reference": str(withdrawal.public_id),
                "reason": withdrawal.failure_reason,
                "when": timezone.localtime().strftime("%-d %b %Y, %H:%M"),
            },
        },
    )


def money_hold(withdrawal: Withdrawal, *, wallet) -> None:
    """The amount leaves the (locked) wallet for the withdrawal-hold account."""
    code = withdrawal.currency
    ledger_post(
        kind="withdrawal_hold",
        idempotency_key=hold_key(withdrawal),
        entries=[
            (wallet, -withdrawal.amount),
            (house_account(kind=AccountKind.WITHDRAWAL_HOLD, currency=code), withdrawal.amount),
        ],
        description=f"Withdrawal of {fmt(withdrawal.amount, code)} on hold",
        actor=actor_for(withdrawal.user),
        reference=str(withdrawal.public_id),
    )


def money_return(withdrawal: Withdrawal, *, why: str, actor: str) -> None:
    """The held amount back to the user's wallet (exactly once: one key).
    The caller holds the withdrawal's row lock; the wallet is locked here
    before the posting locks the hold account (the wallet's lock order)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("money_return must run inside a transaction.")
    code = withdrawal.currency
    # A withdrawal that did not happen gives its limit use back.
    limit_release(reference=limit_reference(withdrawal.public_id))
    wallet = wallet_account_lock(user=withdrawal.user, currency=code)
    ledger_post(
        kind="withdrawal_return",
        idempotency_key=return_key(withdrawal),
        entries=[
            (house_account(kind=AccountKind.WITHDRAWAL_HOLD, currency=code), -withdrawal.amount),
            (wallet, withdrawal.amount),
        ],
        description=f"Withdrawal {why}: {fmt(withdrawal.amount, code)} back to the wallet",
        actor=actor,
        reference=str(withdrawal.public_id),
    )


def money_pay_out(withdrawal: Withdrawal, *, clearing_kind: str, actor: str) -> None:
    """The withdrawal was paid: the held amount leaves, net through the
    clearing account of the way it went, the fee to fee revenue."""
    code = withdrawal.currency
    entries = [
        (house_account(kind=AccountKind.WITHDRAWAL_HOLD, currency=code), -withdrawal.amount),
        (house_account(kind=clearing_kind, currency=code), withdrawal.net_amount),
    ]
    if withdrawal.fee_amount > 0:
        entries.append(
            (house_account(kind=AccountKind.FEE_REVENUE, currency=code), withdrawal.fee_amount)
        )
    ledger_post(
        kind="withdrawal_payout",
        idempotency_key=payout_key(withdrawal),
        entries=entries,
        description=f"Withdrawal paid out: {fmt(withdrawal.net_amount, code)} "
        f"(fee {fmt(withdrawal.fee_amount, code)})",
        actor=actor,
        reference=str(withdrawal.public_id),
    )


def transition(withdrawal: Withdrawal, *, to: str, fields: dict | None = None) -> bool:
    """Compare-and-set the status from what the locked row says; True when moved."""
    previous = withdrawal.status
    now = timezone.now()
    changes = {"status": to, "updated_at": now, **(fields or {})}
    if to in (Withdrawal.Status.COMPLETED, Withdrawal.Status.FAILED):
        changes.setdefault("completed_at", now)
    moved = Withdrawal.objects.filter(pk=withdrawal.pk, status=previous).update(**changes)
    if moved != 1:
        return False
    for name, value in changes.items():
        setattr(withdrawal, name, value)
    withdrawal_event(withdrawal, previous=previous)
    return True


def withdrawal_lock(*, pk: int) -> Withdrawal:
    return Withdrawal.objects.select_for_update(of=("self",)).select_related("user").get(pk=pk)


def code_send_on_commit(*, user, code: str, purpose: str, obj) -> None:
    """Email the confirmation code after commit (the task sends it)."""
    from wallet.tasks import confirmation_code_send

    user_id, object_id = user.pk, str(obj.public_id)
    transaction.on_commit(
        lambda: confirmation_code_send.delay(
            user_id=user_id, code=code, purpose=purpose, object_id=object_id
        )
    )


def limit_reference(public_id) -> str:
    """What a withdrawal's use of the withdrawal limits is recorded under."""
    return f"withdrawal:{public_id}"
