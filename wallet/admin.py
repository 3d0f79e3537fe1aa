"""Staff back office for withdrawals: the bank-withdrawal queue
(deposit_reviewer or admin role) and read-only views of every withdrawal and
payout number.

Admin views are adapters: every decision is one call to
``withdrawal_bank_pay_propose``, ``withdrawal_bank_pay`` or
``withdrawal_bank_reject`` (wallet.services.bank: nobody decides about their
own money, four eyes above the threshold, every decision audited). Nothing
here can add, change or delete a row directly.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from accounts.roles import ADMIN, DEPOSIT_REVIEWER, user_has_role
from audit.services import audit_record
from dtexchange.errors import DomainError
from dtexchange.four_eyes import four_eyes_required
from ledger.money import fmt
from wallet import payouts
from wallet.limits import user_tier
from wallet.models import Deposit, PayoutNumber, TierRequest, WalletProfile, Withdrawal
from wallet.services import (
    tier_request_decide,
    tier_set,
    withdrawal_bank_pay,
    withdrawal_bank_pay_propose,
    withdrawal_bank_reject,
)


class _ReviewersOnly:
    def has_module_permission(self, request):
        return user_has_role(request.user, DEPOSIT_REVIEWER)

    def has_view_permission(self, request, obj=None):
        return user_has_role(request.user, DEPOSIT_REVIEWER)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("bank", "Bank transfers to pay"), ("all", "All withdrawals")]

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        return queryset.filter(method=Withdrawal.Method.BANK, status=Withdrawal.Status.PROCESSING)

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or "bank") == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


@admin.register(Withdrawal)
class WithdrawalAdmin(_ReviewersOnly, admin.ModelAdmin):
    list_display = ("public_id", "user", "shown_amount", "method", "status", "age", "decide")
    list_filter = (QueueFilter, "method", "status")
    search_fields = ("public_id", "user__email", "bank_reference", "payout_reference")
    ordering = ("created_at", "id")  # oldest first
    list_select_related = ("user", "proposed_by")
    readonly_fields = (
        "public_id",
        "user",
        "currency",
        "amount",
        "fee_amount",
        "net_amount",
        "method",
        "status",
        "destination",
        "payout_reference",
        "bank_reference",
        "proposed_by",
        "proposed_reference",
        "decided_by",
        "failure_reason",
        "created_at",
        "confirmed_at",
        "completed_at",
    )
    exclude = ("destination_sealed", "code_hash", "code_salt", "request_fingerprint")

    @admin.display(description="Amount (net)")
    def shown_amount(self, obj):
        return f"{fmt(obj.amount, obj.currency)} ({fmt(obj.net_amount, obj.currency)})"

    @admin.display(description="Waiting for", ordering="created_at")
    def age(self, obj):
        return timesince(obj.created_at, timezone.now())

    @admin.display(description="Decision")
    def decide(self, obj):
        if obj.method != Withdrawal.Method.BANK or obj.status != Withdrawal.Status.PROCESSING:
            return obj.get_status_display()
        label = "Confirm payment" if obj.proposed_by_id else "Record payment"
        return format_html(
            '<a class="button" href="{}">{}</a>&nbsp;<a class="button" href="{}">Reject</a>',
            reverse("admin:wallet_withdrawal_pay", args=[obj.pk]),
            label,
            reverse("admin:wallet_withdrawal_reject", args=[obj.pk]),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/pay/", view(self.pay_view), name="wallet_withdrawal_pay"),
            path("<int:pk>/reject/", view(self.reject_view), name="wallet_withdrawal_reject"),
            *super().get_urls(),
        ]

    def _withdrawal(self, request, pk) -> Withdrawal:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Withdrawal.objects.select_related("user", "proposed_by"), pk=pk)

    def _render(self, request, withdrawal, **context):
        return TemplateResponse(
            request,
            "admin/wallet/withdrawal/decide.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "withdrawal": withdrawal,
                "amount": fmt(withdrawal.amount, withdrawal.currency),
                "net": fmt(withdrawal.net_amount, withdrawal.currency),
                "title": f"Bank withdrawal {withdrawal.public_id}",
                **context,
            },
        )

    def _done(self, request, message, level=messages.SUCCESS):
        self.message_user(request, message, level)
        return redirect("admin:wallet_withdrawal_changelist")

    def _bank_details(self, request, withdrawal) -> dict:
        """The account to pay, in clear: only to the reviewer about to pay
        it, and the look is in the audit trail."""
        details = json.loads(payouts.sealer().unseal(withdrawal.destination_sealed))
        audit_record(
            action="withdrawal.bank_details_viewed",
            actor=request.user,
            obj=withdrawal,
            subject=withdrawal.user,
        )
        return details

    def pay_view(self, request, pk):
        withdrawal = self._withdrawal(request, pk)
        two = four_eyes_required(withdrawal.amount, withdrawal.currency)
        if request.method != "POST":
            return self._render(
                request,
                withdrawal,
                mode="pay",
                four_eyes=two,
                bank=self._bank_details(request, withdrawal),
            )
        reference = request.POST.get("bank_reference", "")
        try:
            if two and withdrawal.proposed_by_id is None:
                withdrawal_bank_pay_propose(
                    staff=request.user, withdrawal_pk=withdrawal.pk, bank_reference=reference
                )
                return self._done(
                    request,
                    f"Payment of {fmt(withdrawal.net_amount, withdrawal.currency)} proposed. "
                    "A different reviewer must confirm it.",
                )
            withdrawal_bank_pay(
                staff=request.user, withdrawal_pk=withdrawal.pk, bank_reference=reference
            )
        except DomainError as exc:
            return self._done(request, f"{withdrawal.public_id}: {exc.message}", messages.ERROR)
        return self._done(
            request, f"Recorded paid: {fmt(withdrawal.net_amount, withdrawal.currency)}."
        )

    def reject_view(self, request, pk):
        withdrawal = self._withdrawal(request, pk)
        if request.method != "POST":
            return self._render(request, withdrawal, mode="reject")
        try:
            withdrawal_bank_reject(
                staff=request.user, withdrawal_pk=withdrawal.pk, reason=request.POST.get("reason")
            )
        except DomainError as exc:
            return self._done(request, f"{withdrawal.public_id}: {exc.message}", messages.ERROR)
        return self._done(request, "Rejected: the money is back in the customer's wallet.")


@admin.register(PayoutNumber)
class PayoutNumberAdmin(_ReviewersOnly, admin.ModelAdmin):
    list_display = ("phone_masked", "user", "provider", "holder_name", "status", "created_at")
    list_filter = ("status", "provider")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    fields = ("user", "phone_masked", "provider", "holder_name", "status", "created_at")
    readonly_fields = fields


def _is_wallet_staff(user) -> bool:
    return user_has_role(user, ADMIN) or user_has_role(user, DEPOSIT_REVIEWER)


class _WalletStaffOnly:
    def has_module_permission(self, request):
        return _is_wallet_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return _is_wallet_staff(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Deposit)
class DepositAdmin(_WalletStaffOnly, admin.ModelAdmin):
    list_display = (
        "public_id",
        "user",
        "method",
        "paid",
        "status",
        "flagged",
        "reference_code",
        "created_at",
    )
    list_filter = ("status", "method", "flagged", "currency")
    search_fields = ("public_id", "reference_code", "user__email")
    list_select_related = ("user",)
    exclude = ("response_body", "request_fingerprint")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in self.exclude]

    @admin.display(description="Amount")
    def paid(self, obj):
        return fmt(obj.amount, obj.currency)


class _StaffViews:
    def _check(self, request):
        if not _is_wallet_staff(request.user):
            raise PermissionDenied

    def _render(self, request, title: str, **context):
        return TemplateResponse(
            request,
            "admin/wallet/decide.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                **context,
            },
        )


@admin.register(WalletProfile)
class WalletProfileAdmin(_StaffViews, _WalletStaffOnly, admin.ModelAdmin):
    list_display = ("user", "granted_tier", "tier_in_force", "tier_set_by", "tier_set_at", "act")
    list_filter = ("granted_tier",)
    search_fields = ("user__email",)
    list_select_related = ("user", "tier_set_by")
    readonly_fields = ("user", "granted_tier", "tier_set_by", "tier_set_at")

    @admin.display(description="Tier in force")
    def tier_in_force(self, obj):
        return user_tier(user=obj.user)

    @admin.display(description="Change")
    def act(self, obj):
        return format_html(
            '<a class="button" href="{}">Set tier</a>',
            reverse("admin:wallet_walletprofile_set_tier", args=[obj.pk]),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/set-tier/", view(self.set_tier_view), name="wallet_walletprofile_set_tier"
            ),
            *super().get_urls(),
        ]

    def set_tier_view(self, request, pk):
        self._check(request)
        profile = get_object_or_404(WalletProfile.objects.select_related("user"), pk=pk)
        title = f"Tier of {profile.user.email}"
        if request.method != "POST":
            return self._render(request, title, mode="tier", profile=profile)
        reason = request.POST.get("reason", "")
        try:
            tier = int(request.POST.get("tier", ""))
            tier_set(user=profile.user, tier=tier, actor=request.user, reason=reason)
        except ValueError:
            return self._render(
                request, title, mode="tier", profile=profile, error="Choose 1 or 2."
            )
        except DomainError as exc:
            return self._render(request, title, mode="tier", profile=profile, error=exc.message)
        self.message_user(request, f"{profile.user.email} is now tier {tier}.", messages.SUCCESS)
        return redirect("admin:wallet_walletprofile_changelist")


class PendingFirst(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*TierRequest.Status.choices, ("all", "All")]

    def queryset(self, request, queryset):
        value = self.value() or TierRequest.Status.PENDING
        return queryset if value == "all" else queryset.filter(status=value)


@admin.register(TierRequest)
class TierRequestAdmin(_StaffViews, _WalletStaffOnly, admin.ModelAdmin):
    list_display = ("user", "requested_tier", "status", "created_at", "decided_by", "act")
    list_filter = (PendingFirst,)
    search_fields = ("user__email",)
    ordering = ("created_at", "id")
    list_select_related = ("user", "decided_by")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    @admin.display(description="Decision")
    def act(self, obj):
        if obj.status != TierRequest.Status.PENDING:
            return obj.get_status_display()
        return format_html(
            '<a class="button" href="{}">Decide</a>',
            reverse("admin:wallet_tierrequest_decide", args=[obj.pk]),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/decide/", view(self.decide_view), name="wallet_tierrequest_decide"),
            *super().get_urls(),
        ]

    def decide_view(self, request, pk):
        self._check(request)
        tier_request = get_object_or_404(TierRequest.objects.select_related("user"), pk=pk)
        title = f"Tier 2 for {tier_request.user.email}"
        if request.method != "POST":
            return self._render(request, title, mode="request", tier_request=tier_request)
        approve = request.POST.get("decision") == "approve"
        try:
            tier_request_decide(
                request_id=tier_request.pk,
                actor=request.user,
                approve=approve,
                note=request.POST.get("note", ""),
            )
        except DomainError as exc:
            return self._render(
                request, title, mode="request", tier_request=tier_request, error=exc.message
            )
        verdict = "approved: now tier 2" if approve else "rejected"
        self.message_user(request, f"{tier_request.user.email}: {verdict}.", messages.SUCCESS)
        return redirect("admin:wallet_tierrequest_changelist")
