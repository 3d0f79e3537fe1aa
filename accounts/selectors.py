"""Reads for accounts (never write)."""

from accounts.models import User
from accounts.roles import ROLES


def user_roles(*, user: User) -> list[str]:
    """The user's role names (groups that are roles), sorted."""
    names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    if user.is_superuser:
        names.add("admin")
    return sorted(names)


def user_profile(*, user: User) -> dict:
    return {
        "id": user.pk,
        "email": user.email,
        "full_name": user.full_name,
        "email_verified": user.is_email_verified,
        "roles": user_roles(user=user),
        "date_joined": user.date_joined,
    }
