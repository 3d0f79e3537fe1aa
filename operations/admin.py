"""Alerts in the back office: their history, read-only, for the admin role
(open ones are also listed on the admin index)."""

from django.contrib import admin

from accounts.roles import ADMIN, user_has_role
from operations.models import Alert


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("rule", "subject", "state", "summary", "opened_at", "resolved_at", "times_sent")
    list_filter = ("state", "rule", "opened_at")
    date_hierarchy = "opened_at"
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return bool(request.user.is_active and request.user.is_staff) and user_has_role(
            request.user, ADMIN
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)
