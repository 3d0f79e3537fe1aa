"""Back-office views of trades and quotes: read-only."""

from django.contrib import admin

from ledger.admin import EntryInline, ReadOnlyAdmin
from trading.models import Quote, Trade, TradeStatusChange

# --- Trades (owner: trading) ---------------------------------------------------
# Read-only too: a trade moves only through the trading services (state
# machine, ledger postings, events); staff actions that change one belong to
# the payment method's own admin (e.g. bank deposit review).


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
