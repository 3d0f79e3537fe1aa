"""The site's wallet pages: Withdraw, Wallet (top-ups, limits), and the
wallet's part of the account settings page (payout numbers, the tier).
Server-rendered; they work without JavaScript."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import verified_required
from accounts.settings_views import settings_page
from dtexchange.errors import DomainError, NotFound
from dtexchange.forms import form_errors_place
from ledger.money import FIAT_CODES
from ledger.selectors import balances_for_user
from wallet.forms import CodeForm, PayoutNumberForm, StatementForm, TopUpForm, WithdrawalForm
from wallet.limits import limits_for_user, user_tier
from wallet.models import PayoutNumber, SecondFactor
from wallet.selectors import (
    deposit_get_for_user,
    deposit_list_for_user,
    payout_number_get_for_user,
    payout_number_list_for_user,
    tier_request_pending,
    withdrawal_get_for_user,
    withdrawal_list_for_user,
)
from wallet.services import (
    payout_number_add,
    payout_number_confirm,
    payout_number_delete,
    tier_request_create,
    top_up_start,
    withdrawal_cancel,
    withdrawal_confirm,
    withdrawal_create,
)


@verified_required
@require_http_methods(["GET", "POST"])
def withdraw(request):
    form = WithdrawalForm(
        request.POST or None, initial={"currency": "UGX", "method": "mobile_money"}
    )
    if request.method == "POST" and form.is_valid():
        try:
            withdrawal = withdrawal_create(
                user=request.user,
                currency=form.cleaned_data["currency"],
                amount=form.cleaned_data["amount"],
                method=form.cleaned_data["method"],
                destination=form.destination(),
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("withdrawal_detail", withdrawal_id=withdrawal.public_id)
    balances = balances_for_user(user=request.user)
    return render(
        request,
        "wallet/withdraw.html",
        {
            "form": form,
            "balances": [(code, balances.get(code, 0)) for code in ("UGX", "USD")],
            "numbers": [
                n for n in payout_number_list_for_user(user=request.user) if n.status == "confirmed"
            ],
            "withdrawals": withdrawal_list_for_user(user=request.user, limit=20),
        },
    )


@verified_required
@require_http_methods(["GET", "POST"])
def withdrawal_detail(request, withdrawal_id):
    try:
        withdrawal = withdrawal_get_for_user(user=request.user, withdrawal_id=withdrawal_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            withdrawal = withdrawal_confirm(
                user=request.user, withdrawal_id=withdrawal_id, code=form.cleaned_data["code"]
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Confirmed: your withdrawal is on its way.")
        return redirect("withdrawal_detail", withdrawal_id=withdrawal_id)
    return render(request, "wallet/withdrawal.html", {"withdrawal": withdrawal, "form": form})


@verified_required
@require_POST
def withdrawal_cancel_view(request, withdrawal_id):
    try:
        withdrawal_cancel(user=request.user, withdrawal_id=withdrawal_id)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Cancelled: the money is back in your wallet.")
    return redirect("withdrawal_detail", withdrawal_id=withdrawal_id)


RECENT = 20
LIMIT_LABELS = {
    "buy_daily": "Buys today",
    "buy_monthly": "Buys this month",
    "withdrawal_daily": "Withdrawals today",
    "withdrawal_monthly": "Withdrawals this month",
    "withdrawals_per_hour": "Withdrawals this hour",
    "top_up_daily": "Top-ups today",
    "top_up_monthly": "Top-ups this month",
}
BANK_LABELS = {
    "bank_name": "Bank",
    "account_name": "Account name",
    "account_number": "Account number",
    "branch": "Branch",
    "swift": "SWIFT",
}


def _page(request, form: TopUpForm, status: int = 200):
    balances = balances_for_user(user=request.user)
    tier, limits = limits_for_user(user=request.user)
    return render(
        request,
        "wallet/wallet.html",
        {
            "balances": [(code, balances.get(code)) for code in FIAT_CODES],
            "form": form,
            "deposits": deposit_list_for_user(user=request.user, limit=RECENT),
            "tier": tier,
            "limits": [{"label": LIMIT_LABELS.get(s.name, s.name), "state": s} for s in limits],
            "tier_request": tier_request_pending(user=request.user),
            "statement": StatementForm(),
        },
        status=status,
    )


@verified_required
@require_http_methods(["GET", "POST"])
def wallet(request):
    if request.method != "POST":
        return _page(request, TopUpForm(initial={"idempotency_key": uuid.uuid4().hex}))
    form = TopUpForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    data = form.cleaned_data
    try:
        deposit = top_up_start(
            user=request.user,
            currency=data["currency"],
            amount=data["amount"],
            method=data["method"],
            payment_details=form.payment_details(),
            idempotency_key=data.get("idempotency_key") or None,
        )
    except DomainError as exc:
        form_errors_place(form, exc)
        return _page(request, form, status=409 if exc.status == 409 else 400)
    return redirect("wallet_deposit", deposit_id=deposit.public_id)


@verified_required
def deposit_detail(request, deposit_id):
    try:
        deposit = deposit_get_for_user(user=request.user, deposit_id=str(deposit_id))
    except NotFound:
        raise Http404("Top-up not found") from None
    return render(
        request,
        "wallet/deposit.html",
        {
            "deposit": deposit,
            "active": deposit.status in ("pending", "processing"),
            "bank": [
                (BANK_LABELS.get(key, key), value)
                for key, value in (deposit.instructions.get("bank") or {}).items()
            ],
        },
    )


@verified_required
@require_POST
def tier_request(request):
    try:
        tier_request_create(user=request.user, note=request.POST.get("note", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Thanks: our team checks your identity and raises your limits.")
    # Asked from the Wallet page or from Settings: back to where it was asked.
    if request.POST.get("back") == "settings":
        return redirect(reverse("account_settings") + "#tier-title")
    return redirect("wallet")


# --- The wallet's part of the account settings page -------------------------------

PAYOUT_NUMBERS_ANCHOR = "#payout-numbers-title"


def _code_form(number_id, data=None) -> CodeForm:
    # One confirmation form per pending number on the page: distinct ids.
    return CodeForm(data, auto_id=f"id_%s_{uuid.UUID(str(number_id)).hex[:12]}")


def settings_section(request, forms: dict) -> dict | None:
    """The context of templates/wallet/_settings.html (accounts.settings_sections);
    nothing for an account whose address is not verified (the wallet refuses it)."""
    user = request.user
    if not user.is_email_verified:
        return None
    rows = []
    for number in payout_number_list_for_user(user=user):
        pending = number.status == PayoutNumber.Status.AWAITING_CONFIRMATION
        rows.append(
            {
                "number": number,
                "confirm_form": (
                    forms.get(f"confirm:{number.public_id}") or _code_form(number.public_id)
                )
                if pending
                else None,
            }
        )
    return {
        "numbers": rows,
        "add_form": forms.get("payout_number") or PayoutNumberForm(),
        "tier": user_tier(user=user),
        "tier_request": tier_request_pending(user=user),
    }


def _back_to_numbers():
    return redirect(reverse("account_settings") + PAYOUT_NUMBERS_ANCHOR)


@verified_required
@require_POST
def payout_number_add_view(request):
    form = PayoutNumberForm(request.POST)
    if form.is_valid():
        try:
            number = payout_number_add(
                user=request.user, phone_number=form.cleaned_data["phone_number"]
            )
        except DomainError as exc:
            form_errors_place(form, exc)
        else:
            if number.status == PayoutNumber.Status.CONFIRMED:
                messages.info(request, f"{number.phone_masked} is already a confirmed number.")
            elif number.second_factor == SecondFactor.TOTP:
                messages.success(
                    request,
                    f"Enter the code from your authenticator app to confirm {number.phone_masked}.",
                )
            else:
                messages.success(
                    request,
                    f"We emailed you a 6-digit code: enter it to confirm {number.phone_masked}.",
                )
            return _back_to_numbers()
    return settings_page(request, forms={"payout_number": form}, status=400)


@verified_required
@require_POST
def payout_number_confirm_view(request, number_id):
    try:  # someone else's (or a deleted) number is a 404, whatever was typed
        payout_number_get_for_user(user=request.user, number_id=number_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    form = _code_form(number_id, request.POST)
    if form.is_valid():
        try:
            number = payout_number_confirm(
                user=request.user, number_id=number_id, code=form.cleaned_data["code"]
            )
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except DomainError as exc:
            left = (exc.details or {}).get("attempts_left")
            if left == 0:
                messages.error(
                    request,
                    "That code is not right, and that was the last try: "
                    "add the number again for a new code.",
                )
                return _back_to_numbers()
            if left is not None:
                form.add_error("code", f"That code is not right. {left} tries left.")
            else:
                form.add_error(None, exc.message)
        else:
            messages.success(request, f"{number.phone_masked} is confirmed: we can pay you there.")
            return _back_to_numbers()
    return settings_page(request, forms={f"confirm:{number_id}": form}, status=400)


@verified_required
@require_POST
def payout_number_delete_view(request, number_id):
    try:
        payout_number_delete(user=request.user, number_id=number_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(request, "The number is removed: nothing is paid to it any more.")
    return _back_to_numbers()
