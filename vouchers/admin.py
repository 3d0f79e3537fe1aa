"""Back office for vouchers: issue batches (codes shown once), list, void.

Nothing here edits a voucher field directly: batches are issued and vouchers
voided through the services; the hash is never shown or editable.
"""

import base64

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from dtexchange.errors import DomainError
from ledger.money import fmt
from vouchers.export import vouchers_csv
from vouchers.models import VOUCHER_CURRENCIES, Voucher, VoucherBatch
from vouchers.services import voucher_batch_create, voucher_void


class BatchIssueForm(forms.Form):
    count = forms.IntegerField(min_value=1, help_text="How many vouchers.")
    amount = forms.DecimalField(min_value=0, help_text="Face value of each voucher.")
    currency = forms.ChoiceField(choices=[(c, c) for c in VOUCHER_CURRENCIES])
    expires_in_days = forms.IntegerField(min_value=1, initial=365)
    note = forms.CharField(max_length=255, required=False)


class VoidForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


@admin.register(VoucherBatch)
class VoucherBatchAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "actor", "count", "face_value", "total_value", "expires_at"]
    list_filter = ["currency"]
    search_fields = ["actor", "note"]
    readonly_fields = [
        "created_at",
        "created_by",
        "actor",
        "count",
        "currency",
        "amount",
        "expires_at",
        "note",
    ]

    @admin.display(description="Face value")
    def face_value(self, obj: VoucherBatch) -> str:
        return fmt(obj.amount, obj.currency)

    @admin.display(description="Total")
    def total_value(self, obj: VoucherBatch) -> str:
        return fmt(obj.total, obj.currency)

    def has_change_permission(self, request, obj=None) -> bool:
        # Viewable, never editable (Django shows a read-only page to "view").
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        """Issue a batch. The response that shows the plain codes is the only
        time they exist: it carries the CSV inline (a data: link), is never
        cached, and nothing is kept on the server."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Issue vouchers",
        }
        form = BatchIssueForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                issued = voucher_batch_create(
                    count=form.cleaned_data["count"],
                    amount=form.cleaned_data["amount"],
                    currency=form.cleaned_data["currency"],
                    expires_in_days=form.cleaned_data["expires_in_days"],
                    actor=request.user,
                    note=form.cleaned_data["note"],
                )
            except DomainError as exc:
                for field, errors in exc.details.items():
                    form.add_error(field if field in form.fields else None, errors)
                if not exc.details:
                    form.add_error(None, exc.message)
            else:
                batch = issued[0][0].batch
                self.log_addition(request, batch, [{"added": {}}])
                csv_b64 = base64.b64encode(vouchers_csv(issued).encode()).decode()
                response = TemplateResponse(
                    request,
                    "admin/vouchers/batch_created.html",
                    {
                        **context,
                        "title": f"Batch #{batch.pk} issued",
                        "batch": batch,
                        "issued": [(v, plain) for v, plain in issued],
                        "face_value": fmt(batch.amount, batch.currency),
                        "csv_href": f"data:text/csv;base64,{csv_b64}",
                        "csv_name": f"vouchers-batch-{batch.pk}.csv",
                    },
                )
                add_never_cache_headers(response)
                response["Cache-Control"] += ", no-store"
                return response
        return TemplateResponse(
            request, "admin/vouchers/batch_issue.html", {**context, "form": form}
        )


@admin.register(Voucher)
class VoucherAdmin(admin.ModelAdmin):
    list_display = ["display_code", "status", "face_value", "expires_at", "batch", "redeemed_by"]
    list_filter = ["status", "currency", "batch"]
    search_fields = ["suffix"]
    list_select_related = ["batch", "redeemed_by"]
    # code_hash is deliberately absent: it is of no use to staff.
    fields = [
        "batch",
        "suffix",
        "currency",
        "amount",
        "expires_at",
        "status",
        "created_at",
        "redeemed_by",
        "redeemed_at",
        "voided_by",
        "voided_at",
        "void_reason",
        "expired_at",
    ]
    readonly_fields = fields
    actions = ["void_selected"]

    @admin.display(description="Code", ordering="suffix")
    def display_code(self, obj: Voucher) -> str:
        return obj.display_code

    @admin.display(description="Face value", ordering="amount")
    def face_value(self, obj: Voucher) -> str:
        return fmt(obj.amount, obj.currency)

    def has_add_permission(self, request) -> bool:
        return False  # vouchers are issued in batches

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_void_permission(self, request) -> bool:
        return request.user.has_perm("vouchers.change_voucher")

    def has_change_permission(self, request, obj=None) -> bool:
        # The change form is read-only; the list still needs this for actions.
        return obj is None and self.has_void_permission(request)

    @admin.action(description="Void selected vouchers…", permissions=["void"])
    def void_selected(self, request: HttpRequest, queryset):
        form = VoidForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            voided, refused = 0, []
            for voucher in queryset.order_by("pk"):
                try:
                    voucher_void(
                        voucher_id=voucher.pk,
                        actor=request.user,
                        reason=form.cleaned_data["reason"],
                    )
                except DomainError as exc:
                    refused.append(f"…{voucher.suffix}: {exc.message}")
                else:
                    voided += 1
                    self.log_change(request, voucher, f"Voided: {form.cleaned_data['reason']}")
            if voided:
                self.message_user(request, f"Voided {voided} voucher(s).", messages.SUCCESS)
            for line in refused:
                self.message_user(request, line, messages.ERROR)
            return None
        return TemplateResponse(
            request,
            "admin/vouchers/void_confirm.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Void vouchers",
                "vouchers": queryset.order_by("pk"),
                "form": form,
                "action": "void_selected",
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
