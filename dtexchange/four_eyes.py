"""The four-eyes rule of staff money decisions, shared by every app whose
staff move customers' money (payments' deposits and flagged payments, the
wallet's bank withdrawals): above ``FOUR_EYES_THRESHOLDS[currency]`` (or
with no threshold set for the currency) one person proposes and a
different one confirms; nobody decides about their own money. Each app
keeps its proposals in its own tables; the rule and its errors are here.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from rest_framework import status

from dtexchange.errors import Conflict, DomainError


class OwnMoneyRefused(DomainError):
    code = "own_money"
    message = "Nobody decides about their own money: ask another staff member."
    status = status.HTTP_403_FORBIDDEN


class FourEyesRequired(Conflict):
    code = "four_eyes_required"
    message = "This amount needs two people: propose it, and a different staff member confirms it."


class SamePersonRefused(DomainError):
    code = "four_eyes_same_person"
    message = "The person who proposed a decision cannot also confirm it."
    status = status.HTTP_403_FORBIDDEN


def four_eyes_threshold(currency: str) -> Decimal | None:
    """The amount above which a decision in ``currency`` needs two people
    (None: no threshold is set for it, so every such decision needs two)."""
    value = settings.FOUR_EYES_THRESHOLDS.get(currency)
    return Decimal(value) if value is not None else None


def four_eyes_required(amount: Decimal, currency: str) -> bool:
    threshold = four_eyes_threshold(currency)
    return threshold is None or amount > threshold


def refuse_own_money(*, owner_id: int | None, staff) -> None:
    """OwnMoneyRefused (403) when ``staff`` is the owner of the money."""
    if owner_id is not None and owner_id == staff.pk:
        raise OwnMoneyRefused()
