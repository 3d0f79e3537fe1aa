"""Voucher writes: issue batches, void, redeem, expire.

Every write locks the voucher row (``SELECT … FOR UPDATE``), re-checks its
state, then changes it compare-and-set (``filter(status="active").update``),
so two staff members or twenty buyers racing on one voucher change it once.

Ledger: the money behind a voucher was paid outside the app, so
issuing a batch posts equity/external -total → voucher_liability +total in the
batch's currency (one posting per batch). Redemption draws the liability down
inside the voucher buy (``trade_settle_buy`` with the liability as the funding
account); voiding or expiring a voucher releases its face value back to
equity. The liability's balance is therefore always the face value of the
active vouchers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from dtexchange.errors import InvalidInput
from ledger.models import AccountKind, TransactionKind
from ledger.money import fmt, has_valid_precision, quantize
from ledger.services import house_account, ledger_post
from vouchers import codes
from vouchers.errors import VoucherStateConflict, VoucherUnavailable
from vouchers.models import Voucher, VoucherBatch, VoucherStatus
from vouchers.rules import ensure_payable, voucher_currency_clean

if TYPE_CHECKING:
    from accounts.models import User
    from trading.models import Trade


@dataclass(frozen=True)
class IssueRequest:
    """Validated input of a batch issue."""

    count: int
    amount: Decimal
    currency: str
    expires_in_days: int


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", details={field: [message]})


def voucher_issue_clean(
    *, count: object, amount: object, currency: object, expires_in_days: object
) -> IssueRequest:
    """Check a batch request; raise InvalidInput naming the bad field.

    The face value must have no more decimals than its currency and lie within
    the voucher payment limits, so every voucher issued can pay for a buy.
    """
    cur = voucher_currency_clean(currency)
    try:
        n = int(str(count))
    except (TypeError, ValueError):
        raise _invalid("count", "A whole number is required.") from None
    max_count = settings.VOUCHER_BATCH_MAX_COUNT
    if not 1 <= n <= max_count:
        raise _invalid("count", f"Between 1 and {max_count} vouchers per batch.")
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise _invalid("amount", "A decimal amount is required.") from None
    if not value.is_finite() or value <= 0:
        raise _invalid("amount", "The face value must be more than zero.")
    if not has_valid_precision(value, cur):
        raise _invalid("amount", f"Too many decimal places for {cur}.")
    lo, hi = settings.PAYMENT_LIMITS["voucher"][cur]
    if not lo <= value <= hi:
        raise _invalid("amount", f"A {cur} voucher is worth between {lo} and {hi} {cur}.")
    try:
        days = int(str(expires_in_days))
    except (TypeError, ValueError):
        raise _invalid("expires_in_days", "A whole number of days is required.") from None
    max_days = settings.VOUCHER_MAX_VALIDITY_DAYS
    if not 1 <= days <= max_days:
        raise _invalid("expires_in_days", f"Between 1 and {max_days} days.")
    return IssueRequest(count=n, amount=quantize(value, cur), currency=cur, expires_in_days=days)


def _actor_fields(actor: User | str) -> tuple[User | None, str]:
    if isinstance(actor, str):
        if not actor.strip():
            raise _invalid("actor", "Who issues the vouchers must be recorded.")
        return None, actor.strip()[:150]
    return actor, f"user:{actor.pk}:{actor.email}"[:150]


@transaction.atomic
def _batch_issue(
    *,
    request: IssueRequest,
    bodies: list[str],
    actor: User | str,
    note: str,
    expires_at: datetime,
) -> list[tuple[Voucher, str]]:
    created_by, actor_label = _actor_fields(actor)
    batch = VoucherBatch.objects.create(
        created_by=created_by,
        actor=actor_label,
        count=len(bodies),
        currency=request.currency,
        amount=request.amount,
        expires_at=expires_at,
        note=note[:255],
    )
    vouchers = Voucher.objects.bulk_create(
        [
            Voucher(
                batch=batch,
                currency=request.currency,
                amount=request.amount,
                expires_at=expires_at,
                code_hash=codes.code_hash(body),
                suffix=codes.suffix(body),
            )
            for body in bodies
        ]
    )
    total = request.amount * len(bodies)
    ledger_post(
        kind=TransactionKind.VOUCHER_ISSUE,
        idempotency_key=f"voucher_issue:batch:{batch.pk}",
        entries=[
            (house_account(kind=AccountKind.EQUITY, currency=request.currency), -total),
            (house_account(kind=AccountKind.VOUCHER_LIABILITY, currency=request.currency), total),
        ],
        description=f"Voucher batch #{batch.pk}: {len(bodies)} x "
        f"{fmt(request.amount, request.currency)}",
        actor=actor_label,
        reference=f"voucher_batch:{batch.pk}",
    )
    audit_record(
        action="voucher.batch_issue",
        actor=created_by,
        actor_label="" if created_by else actor_label,
        obj=batch,
        after={
            "count": len(bodies),
            "amount": request.amount,
            "currency": request.currency,
            "total": total,
            "expires_at": expires_at,
        },
        data={"note": note[:255]},
    )
    return [(v, codes.format_code(body)) for v, body in zip(vouchers, bodies, strict=True)]


def voucher_batch_create(
    *,
    count: int,
    amount: Decimal,
    currency: str,
    expires_in_days: int,
    actor: User | str,
    note: str = "",
) -> list[tuple[Voucher, str]]:
    """Issue ``count`` vouchers of ``amount`` ``currency``; return each with
    its plain code, which is stored nowhere and cannot be shown again.

    One database transaction: the batch, its vouchers (only hashes) and the
    ledger posting commit together or not at all.
    """
    request = voucher_issue_clean(
        count=count, amount=amount, currency=currency, expires_in_days=expires_in_days
    )
    bodies: set[str] = set()
    while len(bodies) < request.count:  # a repeat in ~99 bits is theoretical; cheap to exclude
        bodies.add(codes.generate_body())
    expires_at = timezone.now() + timedelta(days=request.expires_in_days)
    return _batch_issue(
        request=request, bodies=sorted(bodies), actor=actor, note=note, expires_at=expires_at
    )


def voucher_demo_issue(
    *, seed: str, specs: list[tuple[str, Decimal, int]], expires_in_days: int
) -> list[tuple[Voucher, str, bool]]:
    """Idempotently issue the public demo vouchers derived from ``seed``.

    ``specs`` is a list of (currency, face value, count); the n-th demo code is
    always the same, so running the demo loader twice issues nothing new.
    Returns (voucher, plain code, created now) for each demo voucher.
    """
    out: list[tuple[Voucher, str, bool]] = []
    index = 0
    for currency, amount, count in specs:
        bodies = [codes.demo_body(seed, index + i) for i in range(count)]
        index += count
        request = voucher_issue_clean(
            count=count, amount=amount, currency=currency, expires_in_days=expires_in_days
        )
        existing = {
            v.code_hash: v
            for v in Voucher.objects.filter(code_hash__in=[codes.code_hash(b) for b in bodies])
        }
        missing = [b for b in bodies if codes.code_hash(b) not in existing]
        created: dict[str, Voucher] = {}
        if missing:
            issued = _batch_issue(
                request=request,
                bodies=missing,
                actor="demo_data",
                note="Demo vouchers (public codes; DEBUG only)",
                expires_at=timezone.now() + timedelta(days=request.expires_in_days),
            )
            created = {v.code_hash: v for v, _plain in issued}
        for body in bodies:
            h = codes.code_hash(body)
            out.append((created.get(h) or existing[h], codes.format_code(body), h in created))
    return out


def _release_liability(*, voucher: Voucher, kind: str, key: str, actor: str, why: str) -> None:
    """voucher_liability -face → equity +face: the voucher no longer owes anything."""
    ledger_post(
        kind=kind,
        idempotency_key=key,
        entries=[
            (
                house_account(kind=AccountKind.VOUCHER_LIABILITY, currency=voucher.currency),
                -voucher.amount,
            ),
            (house_account(kind=AccountKind.EQUITY, currency=voucher.currency), voucher.amount),
        ],
        description=f"Voucher …{voucher.suffix} {why}",
        actor=actor,
        reference=f"voucher:{voucher.pk}",
    )


def _lock(voucher_id: int) -> Voucher:
    voucher = Voucher.objects.select_for_update().filter(pk=voucher_id).first()
    if voucher is None:
        raise VoucherUnavailable()
    return voucher


@transaction.atomic
def voucher_void(*, voucher_id: int, actor: User, reason: str) -> Voucher:
    """Void an active voucher (also one past its date that the expiry sweep
    has not reached yet) and release its liability, in one transaction.
    Redeemed, void or expired vouchers cannot be voided (409)."""
    reason = (reason or "").strip()
    if not reason:
        raise _invalid("reason", "A reason is required to void a voucher.")
    voucher = _lock(voucher_id)
    if voucher.status != VoucherStatus.ACTIVE:
        raise VoucherStateConflict(
            f"Voucher …{voucher.suffix} is {voucher.status}; only active vouchers can be voided.",
            details={"status": voucher.status},
        )
    now = timezone.now()
    changed = Voucher.objects.filter(pk=voucher.pk, status=VoucherStatus.ACTIVE).update(
        status=VoucherStatus.VOID, voided_by=actor, voided_at=now, void_reason=reason[:2000]
    )
    if changed != 1:  # cannot happen under the row lock; refuse rather than double-post
        raise VoucherStateConflict("The voucher changed while it was being voided.")
    voucher.refresh_from_db()
    _release_liability(
        voucher=voucher,
        kind=TransactionKind.REVERSAL,
        key=f"voucher_void:{voucher.pk}",
        actor=f"user:{actor.pk}:{actor.email}"[:150],
        why=f"voided: {reason}"[:400],
    )
    audit_record(
        action="voucher.void",
        actor=actor,
        obj=voucher,
        before={"status": VoucherStatus.ACTIVE},
        after={"status": voucher.status},
        data={
            "suffix": voucher.suffix,
            "amount": voucher.amount,
            "currency": voucher.currency,
            "reason": reason[:2000],
        },
    )
    return voucher


@transaction.atomic
def voucher_redeem(
    *,
    voucher_id: int,
    currency: str,
    user: User,
    amount: Decimal | None = None,
    trade: Trade | None = None,
) -> Voucher:
    """Mark the voucher redeemed by ``user``, exactly once.

    Locks the voucher row, re-checks under the lock that it is active, not
    past its date, in ``currency`` and (if given) worth exactly ``amount``,
    then compare-and-sets it to redeemed (linked to ``trade``, the buy it
    pays for). Meant to run inside the voucher
    buy's transaction, so a failure later in the buy rolls the redemption
    back too; of many concurrent callers one wins, the others wait on the
    lock and get VoucherUnavailable. Also raises VoucherCurrencyMismatch or
    InvalidInput (``amount_mismatch``).
    """
    cur = voucher_currency_clean(currency)
    voucher = Voucher.objects.select_for_update().filter(pk=voucher_id).first()
    now = timezone.now()
    ensure_payable(voucher, currency=cur, amount=amount, now=now)
    changed = Voucher.objects.filter(pk=voucher.pk, status=VoucherStatus.ACTIVE).update(
        status=VoucherStatus.REDEEMED, redeemed_by=user, redeemed_at=now, redeemed_trade=trade
    )
    if changed != 1:
        raise VoucherUnavailable()
    voucher.refresh_from_db()
    return voucher


def voucher_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Mark active vouchers past their date ``expired``; return how many.

    Each voucher in its own short transaction with the row locked (status
    change and liability release together), so the sweep never holds many
    locks and never races a redemption (which re-checks the date under the
    same lock). Safe to run twice.
    """
    now = now or timezone.now()
    ids = list(
        Voucher.objects.filter(status=VoucherStatus.ACTIVE, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for pk in ids:
        with transaction.atomic():
            voucher = Voucher.objects.select_for_update().filter(pk=pk).first()
            if voucher is None or voucher.status != VoucherStatus.ACTIVE:
                continue
            if voucher.expires_at > now:
                continue
            if Voucher.objects.filter(pk=pk, status=VoucherStatus.ACTIVE).update(
                status=VoucherStatus.EXPIRED, expired_at=now
            ):
                _release_liability(
                    voucher=voucher,
                    kind="voucher_expiry",
                    key=f"voucher_expiry:{pk}",
                    actor="system:voucher_expiry",
                    why="expired unredeemed",
                )
                done += 1
    return done
