"""Throwing and lifting stop switches (admin role, audited; a lift takes two
admins: one asks, a different one confirms).

Throwing is immediate. Lifting: ``*_lift_request`` records who asked (nothing
changes yet); ``*_lift_confirm`` by another admin lifts it. Each step locks
the switch row, then re-checks its state, and writes its audit event in the
same transaction.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.roles import ADMIN, user_has_role
from audit.services import audit_record
from dtexchange.errors import InvalidInput
from switches.errors import (
    AccountFrozen,
    LiftNotRequested,
    NotAnAdmin,
    SamePersonRefused,
    SwitchNotActive,
)
from switches.models import AccountFreeze, MethodPause
from switches.selectors import switches_forget

Direction = MethodPause.Direction


def _require_admin(actor) -> None:
    if not (actor and actor.is_active and actor.is_staff and user_has_role(actor, ADMIN)):
        raise NotAnAdmin()


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > 255:
        raise InvalidInput(
            "Say why (shown to the customer), in at most 255 characters.",
            details={"reason": ["Required, at most 255 characters."]},
        )
    return reason


def _state(switch) -> dict:
    return {
        "reason": switch.reason,
        "active": switch.active,
        "lift_requested_by": switch.lift_requested_by_id,
    }


@transaction.atomic
def account_freeze(*, actor, user, reason: str, request_id: str | None = None) -> AccountFreeze:
    """Freeze ``user``'s account now. Refused (409) if it is frozen already."""
    _require_admin(actor)
    reason = _reason(reason)
    try:
        with transaction.atomic():
            freeze = AccountFreeze.objects.create(user=user, reason=reason, created_by=actor)
    except IntegrityError:
        raise AccountFrozen("This account is frozen already.") from None
    switches_forget()
    audit_record(
        action="account.freeze",
        actor=actor,
        obj=freeze,
        subject=user,
        after=_state(freeze),
        request_id=request_id,
    )
    return freeze


@transaction.atomic
def method_pause(
    *, actor, method: str, direction: str, reason: str, request_id: str | None = None
) -> MethodPause:
    """Pause new trades by ``method`` (``buy``: payments, ``sell``: payouts)."""
    from trading import payment_methods

    _require_admin(actor)
    payment_methods.get(method)  # 400 for an unknown method
    if direction not in Direction.values:
        raise InvalidInput(
            "Pause payments (buy) or payouts (sell).",
            details={"direction": [f"One of: {', '.join(Direction.values)}."]},
        )
    reason = _reason(reason)
    try:
        with transaction.atomic():
            pause = MethodPause.objects.create(
                method=method, direction=direction, reason=reason, created_by=actor
            )
    except IntegrityError:
        raise SwitchNotActive(f"{method} ({direction}) is paused already.") from None
    switches_forget()
    audit_record(
        action="payment_method.pause",
        actor=actor,
        obj=pause,
        after={**_state(pause), "method": method, "direction": direction},
        request_id=request_id,
    )
    return pause


def _locked(model, pk: int):
    switch = model.objects.select_for_update().filter(pk=pk).first()
    if switch is None or not switch.active:
        raise SwitchNotActive()
    return switch


def _action(switch) -> str:
    return "account.freeze" if isinstance(switch, AccountFreeze) else "payment_method.pause"


@transaction.atomic
def switch_lift_request(*, actor, switch, request_id: str | None = None):
    """Ask for ``switch`` (an AccountFreeze or MethodPause) to be lifted; it
    stays on until another admin confirms."""
    _require_admin(actor)
    switch = _locked(type(switch), switch.pk)
    before = _state(switch)
    switch.lift_requested_by = actor
    switch.lift_requested_at = timezone.now()
    switch.save(update_fields=["lift_requested_by", "lift_requested_at"])
    audit_record(
        action=f"{_action(switch)}.lift_request",
        actor=actor,
        obj=switch,
        subject=getattr(switch, "user", None),
        before=before,
        after=_state(switch),
        request_id=request_id,
    )
    return switch


@transaction.atomic
def switch_lift_confirm(*, actor, switch, request_id: str | None = None):
    """Lift ``switch``: a different admin from the one who asked."""
    _require_admin(actor)
    switch = _locked(type(switch), switch.pk)
    if switch.lift_requested_by_id is None:
        raise LiftNotRequested()
    if switch.lift_requested_by_id == actor.pk:
        raise SamePersonRefused()
    before = _state(switch)
    switch.lifted_by = actor
    switch.lifted_at = timezone.now()
    switch.save(update_fields=["lifted_by", "lifted_at"])
    switches_forget()
    audit_record(
        action=f"{_action(switch)}.lift",
        actor=actor,
        obj=switch,
        subject=getattr(switch, "user", None),
        before=before,
        after=_state(switch),
        data={"requested_by": switch.lift_requested_by_id},
        request_id=request_id,
    )
    return switch
