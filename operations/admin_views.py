"""The staff analytics page (``/admin/analytics/``), for the admin role: an
adapter over operations.selectors and operations.analytics_page."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from accounts.roles import ADMIN, user_has_role
from operations.analytics_page import PeriodForm, analytics_page_context
from operations.selectors import analytics_get, period_default


@require_GET
def analytics_view(request):
    if not user_has_role(request.user, ADMIN):
        raise PermissionDenied
    default = period_default()
    form = PeriodForm(request.GET or {"start": default.start, "end": default.end})
    context = {
        **admin.site.each_context(request),
        "title": "Analytics",
        "form": form,
        "is_nav_sidebar_enabled": False,  # the charts need the width
    }
    if not form.is_valid():
        return TemplateResponse(request, "admin/operations/analytics.html", context, status=400)
    context.update(analytics_page_context(analytics_get(period=form.period())))
    return TemplateResponse(request, "admin/operations/analytics.html", context)
