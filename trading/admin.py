"""Back-office views of the ledger: read-only for everyone, superusers too.

A ledger is corrected by a reversing posting (a service), never by editing
rows, so the admin offers no add, change or delete; any active staff member
may look."""

from django.contrib import admin

from trading.models import LedgerAccount, LedgerEntry, LedgerTransaction


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


# --- Trades (owner: trading) ---------------------------------------------------
# Read-only too: a trade moves only through the trading services (state
# machine, ledger postings, events); staff actions that change one belong to
# the payment method's own admin (e.g. bank deposit review).

from trading.models import Quote, Trade, TradeStatusChange  # noqa: E402


class StatusChangeInline(EntryInline):
    model = TradeStatusChange
    fields = ("at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = (
        "reference",
        "created_at",
        "user",
        "trade_type",
        "crypto_amount",
        "crypto_currency",
        "fiat_amount",
        "fiat_currency",
        "payment_method",
        "status",
    )
    list_filter = ("status", "trade_type", "payment_method", "crypto_currency", "fiat_currency")
    search_fields = ("reference", "public_id", "user__email")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    inlines = [StatusChangeInline]
    exclude = ("response_body", "request_fingerprint")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Trade._meta.fields if f.name not in self.exclude]


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "user", "trade_type", "crypto_currency", "fiat_currency",
                    "amount", "expires_at", "used_at")  # fmt: skip
    list_filter = ("trade_type", "crypto_currency", "fiat_currency")
    list_select_related = ("user",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Quote._meta.fields]
