"""Roles are groups: customer, deposit reviewer, admin."""

from django.contrib.auth.models import Group

CUSTOMER = "customer"
DEPOSIT_REVIEWER = "deposit_reviewer"
ADMIN = "admin"
ROLES = (CUSTOMER, DEPOSIT_REVIEWER, ADMIN)


def ensure_roles() -> None:
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def user_has_role(user, role: str) -> bool:
    if not user.is_authenticated:
        return False
    if role != CUSTOMER and user.is_superuser:
        return True
    return user.groups.filter(name=role).exists()
