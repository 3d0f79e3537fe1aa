"""The site's Withdraw pages (server-rendered, work without JavaScript)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import verified_required
from dtexchange.errors import DomainError, NotFound
from ledger.money import FIAT_CODES
from ledger.selectors import balances_for_user
from wallet.forms import CodeForm, StatementForm, TopUpForm, WithdrawalForm
from wallet.limits import limits_for_user
from wallet.selectors import (
    deposit_get_for_user,
    deposit_list_for_user,
    payout_number_list_for_user,
    tier_request_pending,
    withdrawal_get_for_user,
    withdrawal_list_for_user,
)
from wallet.services import (
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


def _place(form: TopUpForm, exc: DomainError) -> None:
    placed = False
    for field, errors in (exc.details or {}).items():
        name = field.removeprefix("payment_details.")
        if name in form.fields and isinstance(errors, list | tuple):
            for error in errors:
                form.add_error(name, str(error))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


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
        _place(form, exc)
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
    return redirect("wallet")
