"""Staff back office for payments: the deposit review queue (deposit_reviewer
role), flagged mobile-money payments to resolve (deposit_reviewer or admin
role), and read-only views of payments, decisions and resolutions.

Admin views are adapters: every decision is one call to ``deposit_approve``,
``deposit_reject`` or ``mobile_money_flag_resolve``. Nothing here can add,
change or delete a row directly.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from accounts.roles import DEPOSIT_REVIEWER, user_has_role
from dtexchange.errors import DomainError, InvalidInput
from dtexchange.four_eyes import four_eyes_required
from ledger.money import fmt
from payments.models import (
    BankDeposit,
    DecisionProposal,
    DepositDecision,
    MobileMoneyPayment,
    PaymentResolution,
    StatementDifference,
)
from payments.selectors import (
    deposit_preview,
    flagged_payment_credit_refusal,
    flagged_payment_reported_amount,
)
from payments.services import (
    deposit_approval_propose,
    deposit_approve,
    deposit_reject,
    flag_credit_propose,
    mobile_money_flag_resolve,
)
from payments.services.resolutions import can_resolve


def _open_proposal(**target) -> DecisionProposal | None:
    return DecisionProposal.objects.filter(status=DecisionProposal.Status.OPEN, **target).first()


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
    list_display = (
        "reference_code",
        "user",
        "purpose",
        "expected",
        "age",
        "status",
        "flagged",
        "decide",
    )
    list_filter = (StatusFilter, "flagged")
    search_fields = ("reference_code", "user__email")
    ordering = ("created_at", "id")  # oldest first
    list_select_related = ("user",)
    readonly_fields = (
        "reference_code",
        "user",
        "trade",
        "top_up",
        "expected_amount",
        "currency",
        "status",
        "amount_received",
        "reviewed_by",
        "reviewed_at",
        "reason",
        "created_at",
        "flagged",
        "flag_reason",
    )

    @admin.display(description="For")
    def purpose(self, obj):
        return "Wallet top-up" if obj.top_up_id else "Buy"

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
        proposal = _open_proposal(deposit=obj)
        if proposal is not None:
            return format_html(
                'Proposed by {}: {}&nbsp;<a class="button" href="{}">Confirm</a>'
                '&nbsp;<a class="button" href="{}">Reject</a>',
                proposal.proposed_by_email,
                fmt(proposal.amount, proposal.currency),
                reverse("admin:payments_bankdeposit_confirm", args=[obj.pk, proposal.pk]),
                reverse("admin:payments_bankdeposit_reject", args=[obj.pk]),
            )
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
            path(
                "<int:pk>/confirm/<int:proposal_id>/",
                view(self.confirm_view),
                name="payments_bankdeposit_confirm",
            ),
            *super().get_urls(),
        ]

    def _deposit(self, request, pk) -> BankDeposit:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(
            BankDeposit.objects.select_related("user", "trade", "top_up"), pk=pk
        )

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

    @staticmethod
    def _figures(deposit, preview) -> dict:
        """What the reviewer checks before money moves (deposit_preview)."""
        cur = deposit.currency
        return {
            "received": fmt(preview.amount_received, cur),
            "fee": fmt(preview.fee_amount, cur),
            "crypto": (
                fmt(preview.crypto_amount, preview.crypto_currency)
                if preview.crypto_currency
                else ""
            ),
            "differs": preview.differs,
            "repriced": preview.repriced,
            "late": "late" in preview.reasons,
            "hold_minutes": int(settings.BANK_DEPOSIT_PRICE_HOLD.total_seconds() // 60),
            "rate": fmt(preview.rate, cur),
            "order_rate": fmt(preview.order_rate, cur),
            "settled": fmt(preview.settle_amount, cur),
            "remainder": fmt(preview.remainder, cur) if preview.remainder else "",
            "maximum": fmt(preview.maximum, cur) if preview.maximum is not None else "",
            "reserve_covers": preview.reserve_covers,
            "wallet_net": fmt(preview.wallet_net, cur) if preview.wallet_net is not None else "",
        }

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
        except (InvalidOperation, DomainError, ArithmeticError) as exc:
            error = "Enter the amount received as a number, e.g. 250000."
            if isinstance(exc, DomainError) and exc.code != "invalid_input":
                error = exc.message  # e.g. no fresh price to re-price with
            return self._render(
                request, deposit, mode="approve", amount=raw, reason=reason, error=error
            )
        if preview.needs_confirmation and request.POST.get("confirmed") != "yes":
            return self._render(
                request,
                deposit,
                mode="confirm",
                amount=raw,
                reason=reason,
                **self._figures(deposit, preview),
            )
        try:
            if four_eyes_required(amount, deposit.currency):
                deposit_approval_propose(
                    deposit_id=deposit.pk,
                    reviewer=request.user,
                    amount_received=amount,
                    reason=reason,
                )
                return self._done(
                    request,
                    f"{deposit.reference_code}: approval of {fmt(amount, deposit.currency)} "
                    "proposed. A different reviewer must confirm it before any money moves.",
                )
            deposit_approve(
                deposit_id=deposit.pk, reviewer=request.user, amount_received=amount, reason=reason
            )
        except DomainError as exc:
            return self._done(request, f"{deposit.reference_code}: {exc.message}", messages.ERROR)
        return self._done(
            request, f"{deposit.reference_code} approved: {fmt(amount, deposit.currency)}."
        )

    def confirm_view(self, request, pk, proposal_id):
        """The second pair of eyes: the proposal's figures, then one click."""
        deposit = self._deposit(request, pk)
        proposal = get_object_or_404(DecisionProposal, pk=proposal_id, deposit=deposit)
        if request.method != "POST":
            try:
                figures = self._figures(
                    deposit, deposit_preview(deposit=deposit, amount_received=proposal.amount)
                )
            except DomainError as exc:  # e.g. no fresh price to re-price with
                figures = {"error": exc.message, "received": fmt(proposal.amount, deposit.currency)}
            return self._render(request, deposit, mode="four_eyes", proposal=proposal, **figures)
        try:
            deposit_approve(
                deposit_id=deposit.pk,
                reviewer=request.user,
                amount_received=proposal.amount,
                proposal_id=proposal.pk,
            )
        except DomainError as exc:
            return self._done(request, f"{deposit.reference_code}: {exc.message}", messages.ERROR)
        return self._done(
            request,
            f"{deposit.reference_code} approved: {fmt(proposal.amount, deposit.currency)} "
            f"(proposed by {proposal.proposed_by_email}, confirmed by {request.user.email}).",
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
        "proposed_by_email",
        "decided_at",
        "expected_amount",
        "amount_received",
        "currency",
        "reason",
    )
    list_filter = ("decision",)
    search_fields = ("deposit__reference_code", "actor_email")
    readonly_fields = [f.name for f in DepositDecision._meta.fields]


class _ResolversOnly(_ReadOnly):
    def has_module_permission(self, request):
        return can_resolve(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return can_resolve(request.user) or super().has_view_permission(request, obj)


class AttentionFilter(admin.SimpleListFilter):
    """Flags nobody has resolved yet: what a person opens the page for."""

    title = "flag"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("open", "Flagged, to resolve"), ("resolved", "Flagged, resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(flagged=True, resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(flagged=True, resolved_at__isnull=False)
        return queryset


class PaymentResolutionInline(admin.TabularInline):
    model = PaymentResolution
    extra = 0
    can_delete = False
    fields = (
        "resolved_at",
        "outcome",
        "actor_email",
        "proposed_by_email",
        "amount_credited",
        "note",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return can_resolve(request.user) or super().has_view_permission(request, obj)


@admin.register(MobileMoneyPayment)
class MobileMoneyPaymentAdmin(_ResolversOnly, admin.ModelAdmin):
    list_display = (
        "reference",
        "direction",
        "user",
        "provider",
        "amount",
        "currency",
        "status",
        "waiting_reason",
        "charge",
        "provider_transaction_id",
        "flagged",
        "outcome",
        "created_at",
        "resolve",
    )
    list_filter = (
        AttentionFilter,
        "status",
        "waiting_reason",
        "direction",
        "provider",
        "flagged",
    )
    search_fields = (
        "reference",
        "internal_reference",
        "provider_transaction_id",
        "user__email",
    )
    list_select_related = ("user",)
    exclude = ("msisdn", "msisdn_hash")  # personal data stays out of screens
    inlines = (PaymentResolutionInline,)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in self.exclude]

    @admin.display(description="Flag")
    def resolve(self, obj):
        if not obj.flagged:
            return ""
        if obj.resolved_at is not None:
            return "Resolved"
        proposal = _open_proposal(payment=obj)
        if proposal is not None:
            return format_html(
                'Credit proposed by {}: {}&nbsp;<a class="button" href="{}">Confirm</a>'
                '&nbsp;<a class="button" href="{}">Resolve otherwise</a>',
                proposal.proposed_by_email,
                fmt(proposal.amount, proposal.currency),
                reverse("admin:payments_mobilemoneypayment_confirm", args=[obj.pk, proposal.pk]),
                reverse("admin:payments_mobilemoneypayment_resolve", args=[obj.pk]),
            )
        return format_html(
            '<a class="button" href="{}">Resolve</a>',
            reverse("admin:payments_mobilemoneypayment_resolve", args=[obj.pk]),
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/resolve/",
                view(self.resolve_view),
                name="payments_mobilemoneypayment_resolve",
            ),
            path(
                "<int:pk>/confirm/<int:proposal_id>/",
                view(self.confirm_view),
                name="payments_mobilemoneypayment_confirm",
            ),
            *super().get_urls(),
        ]

    def _done(self, request, message, level=messages.SUCCESS):
        self.message_user(request, message, level)
        changelist = reverse("admin:payments_mobilemoneypayment_changelist")
        return redirect(f"{changelist}?attention=open")

    def _render(self, request, payment, **context):
        reported = flagged_payment_reported_amount(payment)
        return TemplateResponse(
            request,
            "admin/payments/mobilemoneypayment/resolve.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "payment": payment,
                "requested": fmt(payment.amount, payment.currency),
                "reported": fmt(reported, payment.currency) if reported is not None else "",
                "credit_refusal": flagged_payment_credit_refusal(payment),
                "outcomes": PaymentResolution.Outcome.choices,
                "title": f"Flagged payment {payment.reference}",
                "outcome": "",
                "amount": str(reported.normalize()) if reported is not None else "",
                **context,
            },
        )

    def resolve_view(self, request, pk):
        # Only resolvers: a staff user who may merely view payments gets 403.
        if not can_resolve(request.user):
            raise PermissionDenied
        payment = get_object_or_404(
            MobileMoneyPayment.objects.select_related("user", "trade"), pk=pk
        )
        if request.method != "POST":
            return self._render(request, payment, mode="form")
        outcome = request.POST.get("outcome", "")
        note = request.POST.get("note", "")
        raw = request.POST.get("amount", "").replace(",", "").strip()
        form = {"outcome": outcome, "note": note, "amount": raw}
        if not note.strip():
            return self._render(
                request, payment, mode="form", error="A note is required to resolve.", **form
            )
        if outcome not in PaymentResolution.Outcome.values:
            return self._render(request, payment, mode="form", error="Choose an outcome.", **form)
        amount = None
        if outcome == PaymentResolution.Outcome.CREDITED:
            try:
                amount = Decimal(raw)
                if not amount.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                return self._render(
                    request,
                    payment,
                    mode="form",
                    error="Enter the amount received as a number, e.g. 4900.",
                    **form,
                )
            reported = flagged_payment_reported_amount(payment)
            # A positive figure other than Relworx's is asked again (a typo
            # credits real money); anything else the service refuses.
            if amount > 0 and amount != reported and request.POST.get("confirmed") != "yes":
                return self._render(
                    request, payment, mode="confirm", credit=fmt(amount, payment.currency), **form
                )
        try:
            if amount is not None and amount > 0 and four_eyes_required(amount, payment.currency):
                flag_credit_propose(
                    payment_id=payment.pk, actor=request.user, amount=amount, note=note
                )
                return self._done(
                    request,
                    f"{payment.reference}: a credit of {fmt(amount, payment.currency)} proposed. "
                    "A different resolver must confirm it before any money moves.",
                )
            resolution = mobile_money_flag_resolve(
                payment_id=payment.pk, actor=request.user, outcome=outcome, note=note, amount=amount
            )
        except InvalidInput as exc:
            return self._render(request, payment, mode="form", error=exc.message, **form)
        except DomainError as exc:
            return self._done(request, f"{payment.reference}: {exc.message}", messages.ERROR)
        if resolution.outcome == PaymentResolution.Outcome.CREDITED:
            return self._done(
                request,
                f"{payment.reference} resolved: {fmt(resolution.amount_credited, payment.currency)}"
                f" credited to {payment.user.email}'s wallet.",
            )
        return self._done(request, f"{payment.reference} resolved: dismissed.")

    def confirm_view(self, request, pk, proposal_id):
        """The second pair of eyes on a proposed credit."""
        if not can_resolve(request.user):
            raise PermissionDenied
        payment = get_object_or_404(
            MobileMoneyPayment.objects.select_related("user", "trade"), pk=pk
        )
        proposal = get_object_or_404(DecisionProposal, pk=proposal_id, payment=payment)
        if request.method != "POST":
            return self._render(
                request,
                payment,
                mode="four_eyes",
                proposal=proposal,
                credit=fmt(proposal.amount, payment.currency),
            )
        try:
            resolution = mobile_money_flag_resolve(
                payment_id=payment.pk,
                actor=request.user,
                outcome=PaymentResolution.Outcome.CREDITED,
                proposal_id=proposal.pk,
            )
        except DomainError as exc:
            return self._done(request, f"{payment.reference}: {exc.message}", messages.ERROR)
        return self._done(
            request,
            f"{payment.reference} resolved: {fmt(resolution.amount_credited, payment.currency)}"
            f" credited to {payment.user.email}'s wallet (proposed by "
            f"{proposal.proposed_by_email}, confirmed by {request.user.email}).",
        )


@admin.register(PaymentResolution)
class PaymentResolutionAdmin(_ResolversOnly, admin.ModelAdmin):
    list_display = (
        "payment",
        "outcome",
        "actor_email",
        "proposed_by_email",
        "resolved_at",
        "amount_credited",
        "currency",
        "note",
    )
    list_filter = ("outcome",)
    search_fields = ("payment__reference", "actor_email")
    list_select_related = ("payment",)
    readonly_fields = [f.name for f in PaymentResolution._meta.fields]


@admin.register(StatementDifference)
class StatementDifferenceAdmin(_ResolversOnly, admin.ModelAdmin):
    """Differences found by the daily Relworx statement reconciliation (read-only)."""

    list_display = ("found_at", "kind", "reference", "internal_reference", "payment")
    list_filter = ("kind",)
    search_fields = ("reference", "internal_reference")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DecisionProposal)
class DecisionProposalAdmin(_ResolversOnly, admin.ModelAdmin):
    """Four-eyes proposals: who proposed, who confirmed (or closed), when."""

    list_display = (
        "kind",
        "deposit",
        "payment",
        "amount",
        "currency",
        "status",
        "proposed_by_email",
        "proposed_at",
        "confirmed_by_email",
        "closed_by_email",
        "decided_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("deposit__reference_code", "payment__reference", "proposed_by_email")
    readonly_fields = [f.name for f in DecisionProposal._meta.fields]
