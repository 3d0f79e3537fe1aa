"""Tiers: staff raise a user to tier 2 (identity checked) or back, and users
ask for it. Every change is audited; nobody changes their own tier."""

from __future__ import annotations

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.roles import ADMIN, DEPOSIT_REVIEWER, user_has_role
from accounts.services import user_verified_require
from audit.services import audit_record
from dtexchange.errors import Conflict, DomainError, InvalidInput
from wallet.limits import user_tier, wallet_profile_lock
from wallet.models import Tier, TierRequest, WalletProfile

log = structlog.get_logger(__name__)


class TierChangeRefused(DomainError):
    code = "permission_denied"
    message = "Only admins and reviewers set tiers, and never their own."
    status = 403


class TierRequestRefused(Conflict):
    code = "conflict"
    message = "There is nothing to request."


def _check_staff(*, actor, user) -> None:
    if not (user_has_role(actor, ADMIN) or user_has_role(actor, DEPOSIT_REVIEWER)):
        raise TierChangeRefused()
    if actor.pk == user.pk:
        raise TierChangeRefused("Nobody sets their own tier.")


@transaction.atomic
def tier_set(*, user, tier: int, actor, reason: str) -> int:
    """Set the tier staff grant ``user`` (1 or 2), with a reason; audited
    (before/after). Takes the user's limit lock, so no limit check runs
    half on the old tier. Returns the tier now in force."""
    if tier not in (Tier.VERIFIED, Tier.IDENTITY):
        raise InvalidInput("The tier staff set is 1 or 2.", code="invalid_input")
    if not (reason or "").strip():
        raise InvalidInput(
            "Give the reason (e.g. which document was checked).",
            code="invalid_input",
            details={"reason": ["A reason is required."]},
        )
    _check_staff(actor=actor, user=user)
    before = wallet_profile_lock(user=user)
    profile = WalletProfile.objects.get(user_id=user.pk)
    profile.granted_tier = tier
    profile.tier_set_by = actor
    profile.tier_set_at = timezone.now()
    profile.save(update_fields=["granted_tier", "tier_set_by", "tier_set_at"])
    audit_record(
        action="wallet.tier_set",
        actor=actor,
        obj=profile,
        subject=user,
        before={"tier": before},
        after={"tier": tier},
        data={"reason": reason.strip()},
    )
    log.info("wallet.tier_set", user=user.pk, tier=tier, actor=actor.pk)
    return user_tier(user=user)


def tier_request_create(*, user, note: str = "") -> TierRequest:
    """The user asks for tier 2; the request waits in the staff queue.
    Refused (409) at tier 2 already, or with a request still pending."""
    user_verified_require(user=user)
    if user_tier(user=user) >= Tier.IDENTITY:
        raise TierRequestRefused("Your identity is checked already (tier 2).")
    try:
        with transaction.atomic():
            return TierRequest.objects.create(
                user=user, requested_tier=Tier.IDENTITY, note=(note or "").strip()[:1000]
            )
    except IntegrityError:
        raise TierRequestRefused("Your request is already waiting for our team.") from None


@transaction.atomic
def tier_request_decide(*, request_id: int, actor, approve: bool, note: str) -> TierRequest:
    """Staff decide a pending request: approving sets tier 2 (tier_set,
    audited); rejecting is audited with its note. Once only (409)."""
    request = TierRequest.objects.select_for_update().select_related("user").get(pk=request_id)
    if request.status != TierRequest.Status.PENDING:
        raise TierRequestRefused("This request was decided already.")
    _check_staff(actor=actor, user=request.user)
    if not (note or "").strip():
        raise InvalidInput(
            "Give the reason for the decision.",
            code="invalid_input",
            details={"note": ["A note is required."]},
        )
    status = TierRequest.Status.APPROVED if approve else TierRequest.Status.REJECTED
    TierRequest.objects.filter(pk=request.pk, status=TierRequest.Status.PENDING).update(
        status=status, decided_by=actor, decided_at=timezone.now(), decision_note=note.strip()
    )
    request.refresh_from_db()
    if approve:
        tier_set(user=request.user, tier=Tier.IDENTITY, actor=actor, reason=note)
    audit_record(
        action="wallet.tier_request_decide",
        actor=actor,
        obj=request,
        subject=request.user,
        before={"status": TierRequest.Status.PENDING},
        after={"status": status},
        data={"note": note.strip()},
    )
    return request
