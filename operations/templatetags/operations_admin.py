from django import template

from accounts.roles import ADMIN, user_has_role
from operations.selectors import alerts_open

register = template.Library()


@register.simple_tag
def open_alerts():
    return alerts_open()


@register.simple_tag(takes_context=True)
def is_admin_role(context) -> bool:
    return user_has_role(context["request"].user, ADMIN)
