from django.contrib import admin

from notifications.models import Announcement, OutboxDelivery, OutboxEvent
from notifications.services import announcement_publish


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = ("created_at", "title", "level", "created_by")
    list_filter = ("level",)
    search_fields = ("title", "body")
    fields = ("title", "body", "level")

    def save_model(self, request, obj, form, change):
        # The admin view runs in a transaction: the event commits with the row.
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        announcement_publish(announcement=obj)


class OutboxDeliveryInline(admin.TabularInline):
    model = OutboxDelivery
    extra = 0
    can_delete = False
    readonly_fields = (
        "destination",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    )

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    """Read-only: events are written by services and delivered by the dispatcher."""

    list_display = ("id", "kind", "user_id", "created_at", "delivered_at", "attempts")
    list_filter = ("kind", ("delivered_at", admin.EmptyFieldListFilter))
    search_fields = ("kind", "user_id")
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
    inlines = [OutboxDeliveryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
