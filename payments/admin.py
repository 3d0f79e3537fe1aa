"""Staff back office for payments: the deposit review queue (deposit_reviewer
role) and read-only views of mobile-money payments and decisions.

Admin actions are adapters: every decision is one call to ``deposit_approve``
or ``deposit_reject``. Nothing here can add, change or delete a row directly.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from accounts.roles import DEPOSIT_REVIEWER, user_has_role
from dtexchange.errors import DomainError
from payments.models import BankDeposit, DepositDecision, MobileMoneyPayment
from payments.selectors import deposit_preview
from payments.services import deposit_approve, deposit_reject
from trading.money import fmt


class _ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _ReviewersOnly(_ReadOnly):
    def has_module_permission(self, request):
        return user_has_role(request.user, DEPOSIT_REVIEWER)

    def has_view_permission(self, request, obj=None):
        return user_has_role(request.user, DEPOSIT_REVIEWER)


class StatusFilter(admin.SimpleListFilter):
    """Pending by default: the queue is what a reviewer opens the page for."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*BankDeposit.Status.choices, ("all", "All")]

    def queryset(self, request, queryset):
        value = self.value() or BankDeposit.Status.PENDING
        return queryset if value == "all" else queryset.filter(status=value)

    def choices(self, changelist):
        current = self.value() or BankDeposit.Status.PENDING
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


@admin.register(BankDeposit)
class BankDepositAdmin(_ReviewersOnly, admin.ModelAdmin):
    list_display = ("reference_code", "user", "expected", "age", "status", "decide")
    list_filter = (StatusFilter,)
    search_fields = ("reference_code", "user__email")
    ordering = ("created_at", "id")  # oldest first
    list_select_related = ("user",)
    readonly_fields = (
        "reference_code",
        "user",
        "trade",
        "expected_amount",
        "currency",
        "status",
        "amount_received",
        "reviewed_by",
        "reviewed_at",
        "reason",
        "created_at",
    )

    @admin.display(description="Expected amount")
    def expected(self, obj):
        return fmt(obj.expected_amount, obj.currency)

    @admin.display(description="Waiting for", ordering="created_at")
    def age(self, obj):
        return timesince(obj.created_at, timezone.now())

    @admin.display(description="Decision")
    def decide(self, obj):
        if obj.status != BankDeposit.Status.PENDING:
            return obj.get_status_display()
        return format_html(
            '<a class="button" href="{}">Approve</a>&nbsp;<a class="button" href="{}">Reject</a>',
            reverse("admin:payments_bankdeposit_approve", args=[obj.pk]),
            reverse("admin:payments_bankdeposit_reject", args=[obj.pk]),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/approve/", view(self.approve_view), name="payments_bankdeposit_approve"),
            path("<int:pk>/reject/", view(self.reject_view), name="payments_bankdeposit_reject"),
            *super().get_urls(),
        ]

    def _deposit(self, request, pk) -> BankDeposit:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(BankDeposit.objects.select_related("user", "trade"), pk=pk)

    def _render(self, request, deposit, **context):
        return TemplateResponse(
            request,
            "admin/payments/bankdeposit/decide.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "deposit": deposit,
                "expected": fmt(deposit.expected_amount, deposit.currency),
                "title": f"Deposit {deposit.reference_code}",
                **context,
            },
        )

    def _done(self, request, message, level=messages.SUCCESS):
        self.message_user(request, message, level)
        return redirect("admin:payments_bankdeposit_changelist")

    def approve_view(self, request, pk):
        deposit = self._deposit(request, pk)
        if request.method != "POST":
            return self._render(
                request, deposit, mode="approve", amount=str(deposit.expected_amount.normalize())
            )
        raw = request.POST.get("amount_received", "").replace(",", "").strip()
        reason = request.POST.get("reason", "")
        try:
            amount = Decimal(raw)
            preview = deposit_preview(deposit=deposit, amount_received=amount)
        except (InvalidOperation, DomainError, ArithmeticError):
            return self._render(
                request,
                deposit,
                mode="approve",
                amount=raw,
                reason=reason,
                error="Enter the amount received as a number, e.g. 250000.",
            )
        if preview.differs and request.POST.get("confirmed") != "yes":
            return self._render(
                request,
                deposit,
                mode="confirm",
                amount=raw,
                reason=reason,
                received=fmt(amount, deposit.currency),
                fee=fmt(preview.fee_amount, deposit.currency),
                crypto=fmt(preview.crypto_amount, preview.crypto_currency),
            )
        try:
            deposit_approve(
                deposit_id=deposit.pk, reviewer=request.user, amount_received=amount, reason=reason
            )
        except DomainError as exc:
            return self._done(request, f"{deposit.reference_code}: {exc.message}", messages.ERROR)
        return self._done(
            request, f"{deposit.reference_code} approved: {fmt(amount, deposit.currency)}."
        )

    def reject_view(self, request, pk):
        deposit = self._deposit(request, pk)
        if request.method != "POST":
            return self._render(request, deposit, mode="reject")
        reason = request.POST.get("reason", "")
        if not reason.strip():
            return self._render(
                request, deposit, mode="reject", error="A reason is required to reject a deposit."
            )
        try:
            deposit_reject(deposit_id=deposit.pk, reviewer=request.user, reason=reason)
        except DomainError as exc:
            return self._done(request, f"{deposit.reference_code}: {exc.message}", messages.ERROR)
        return self._done(request, f"{deposit.reference_code} rejected.")


@admin.register(DepositDecision)
class DepositDecisionAdmin(_ReviewersOnly, admin.ModelAdmin):
    list_display = (
        "deposit",
        "decision",
        "actor_email",
        "decided_at",
        "expected_amount",
        "amount_received",
        "currency",
        "reason",
    )
    list_filter = ("decision",)
    search_fields = ("deposit__reference_code", "actor_email")
    readonly_fields = [f.name for f in DepositDecision._meta.fields]


@admin.register(MobileMoneyPayment)
class MobileMoneyPaymentAdmin(_ReadOnly, admin.ModelAdmin):
    list_display = (
        "reference",
        "direction",
        "user",
        "provider",
        "amount",
        "currency",
        "status",
        "flagged",
        "outcome",
        "created_at",
    )
    list_filter = ("status", "direction", "provider", "flagged")
    search_fields = ("reference", "internal_reference", "user__email")
    exclude = ("msisdn", "msisdn_hash")  # personal data stays out of screens

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in self.exclude]
