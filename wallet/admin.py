"""Staff back office for the wallet: top-ups (read-only; flagged ones are
what a person looks at), users' tiers (set through ``tier_set``, audited)
and the queue of tier requests (decided through ``tier_request_decide``).
Admins and deposit reviewers only; nothing here writes a row directly."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.roles import ADMIN, DEPOSIT_REVIEWER, user_has_role
from dtexchange.errors import DomainError
from ledger.money import fmt
from wallet.limits import user_tier
from wallet.models import Deposit, TierRequest, WalletProfile
from wallet.services import tier_request_decide, tier_set


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
