"""The audit trail in the back office: read-only, for the admin role."""

from django.contrib import admin

from accounts.roles import ADMIN, user_has_role
from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "seq",
        "created_at",
        "action",
        "actor",
        "actor_label",
        "object_type",
        "object_id",
        "subject",
        "request_id",
    )
    list_filter = ("action", "object_type", "created_at", "actor__is_staff")
    search_fields = ("object_id", "request_id", "actor__email", "subject__email", "actor_label")
    date_hierarchy = "created_at"
    list_select_related = ("actor", "subject")
    show_full_result_count = False
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

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
