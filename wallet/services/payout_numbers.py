"""Payout numbers: the phones money may be paid out to, each confirmed once
with the user's second factor (so a stolen access token cannot send a
user's money to another phone)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.security import security_alert
from accounts.services import user_verified_require
from wallet import payouts
from wallet.errors import NotAwaitingConfirmation, PayoutNumberNotFound, WrongCode
from wallet.models import PayoutNumber
from wallet.second_factor import attempts_left, code_check, code_issue
from wallet.selectors import payout_number_live
from wallet.services.common import code_send_on_commit

Status = PayoutNumber.Status


def payout_number_add(*, user, phone_number) -> PayoutNumber:
    """Save a number, ``awaiting_confirmation`` (a code is emailed after
    commit unless the user has an authenticator). The holder's name is asked
    of Relworx first, where it can say. A number already saved is returned
    as it is (a pending one gets a fresh code)."""
    user_verified_require(user=user)
    payout = payouts.get("mobile_money")
    number = payout.number_parse(value=phone_number, field="phone_number")
    saved = payout_number_live(user=user, lookup_hash=number.lookup_hash)
    if saved is not None and saved.status == Status.CONFIRMED:
        return saved
    holder = (saved.holder_name if saved else "") or payout.holder_name(number=number) or ""
    with transaction.atomic():
        if saved is None:
            candidate = PayoutNumber(
                user=user,
                msisdn_hash=number.lookup_hash,
                msisdn_sealed=payouts.sealer().seal(number.e164),
                phone_masked=number.masked,
                provider=number.provider,
                holder_name=holder[:255],
            )
            try:
                with transaction.atomic():
                    candidate.save(force_insert=True)
                pk = candidate.pk
            except IntegrityError:  # the same number added twice at once
                pk = payout_number_live(user=user, lookup_hash=number.lookup_hash).pk
        else:
            pk = saved.pk
        row = PayoutNumber.objects.select_for_update().get(pk=pk)
        if row.status != Status.AWAITING_CONFIRMATION:
            return row
        if holder and not row.holder_name:
            row.holder_name = holder[:255]
        code = code_issue(row, user=user)
        row.code_failures = 0
        row.save()
        if code is not None:
            code_send_on_commit(user=user, code=code, purpose="payout_number", obj=row)
    return row


def _locked(*, user, number_id) -> PayoutNumber:
    pk = (
        PayoutNumber.objects.filter(public_id=number_id, user=user)
        .exclude(status=Status.DELETED)
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        raise PayoutNumberNotFound(details={"id": str(number_id)})
    return PayoutNumber.objects.select_for_update().get(pk=pk)


def payout_number_confirm(*, user, number_id, code: str) -> PayoutNumber:
    """Confirm a number with the second factor. Wrong codes count; the last
    allowed one deletes the pending number (add it again for a new code)."""
    error = None
    with transaction.atomic():
        row = _locked(user=user, number_id=number_id)
        if row.status != Status.AWAITING_CONFIRMATION or not row.second_factor:
            raise NotAwaitingConfirmation(details={"status": row.status})
        if code_check(row, user=user, code=code):
            row.status = Status.CONFIRMED
            row.confirmed_at = timezone.now()
            row.save()
            security_alert(user=user, what="payout_number_changed")
        else:
            row.code_failures += 1
            left = attempts_left(row)
            if left == 0:
                row.status = Status.DELETED
                row.deleted_at = timezone.now()
            row.save()
            error = WrongCode(details={"code": ["That code is not right."], "attempts_left": left})
    if error is not None:
        raise error
    return row


def payout_number_mark_confirmed(*, number_id: int) -> None:
    """A withdrawal to a new number was confirmed with the second factor:
    the number is confirmed with it (in the withdrawal's transaction)."""
    now = timezone.now()
    PayoutNumber.objects.filter(pk=number_id, status=Status.AWAITING_CONFIRMATION).update(
        status=Status.CONFIRMED, confirmed_at=now, code_hash="", code_salt="", code_valid_until=None
    )


def payout_number_delete(*, user, number_id) -> None:
    with transaction.atomic():
        row = _locked(user=user, number_id=number_id)
        was_confirmed = row.status == Status.CONFIRMED
        row.status = Status.DELETED
        row.deleted_at = timezone.now()
        row.save(update_fields=["status", "deleted_at"])
        if was_confirmed:
            security_alert(user=user, what="payout_number_changed")


__all__ = [
    "payout_number_add",
    "payout_number_confirm",
    "payout_number_delete",
    "payout_number_mark_confirmed",
]
