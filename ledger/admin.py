"""Back-office views of the ledger: read-only for everyone, superusers too.

A ledger is corrected by a reversing posting (a service), never by editing
rows, so the admin offers no add, change or delete; any active staff member
may look."""

from django.contrib import admin

from ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return bool(request.user.is_active and request.user.is_staff)

    def has_module_permission(self, request):
        return bool(request.user.is_active and request.user.is_staff)


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ("account", "currency", "amount")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return bool(request.user.is_active and request.user.is_staff)


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "currency", "owner", "balance", "created_at")
    list_filter = ("kind", "currency")
    search_fields = ("owner__email",)
    list_select_related = ("owner",)
    readonly_fields = ("owner", "kind", "currency", "balance", "created_at")


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "created_at", "reference", "actor", "description")
    list_filter = ("kind",)
    search_fields = ("reference", "idempotency_key", "actor")
    date_hierarchy = "created_at"
    readonly_fields = (
        "kind",
        "idempotency_key",
        "created_at",
        "actor",
        "description",
        "reference",
    )
    inlines = [EntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "transaction", "account", "currency", "amount")
    list_filter = ("currency",)
    search_fields = ("transaction__reference", "account__owner__email")
    list_select_related = ("transaction", "account", "account__owner")
    raw_id_fields = ("transaction", "account")
    readonly_fields = ("transaction", "account", "currency", "amount")
