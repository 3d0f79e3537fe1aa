from django import template

from notifications import formatting

register = template.Library()


@register.filter
def money(value, code):
    return formatting.money(value, code)


@register.filter
def percent(value):
    return formatting.percent(value)
