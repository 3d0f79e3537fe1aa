"""The site's Wallet page (server-rendered; works without JavaScript):
balances, Add money, the top-ups with their status, limits, the statement
download and asking for tier 2. Thin adapters over wallet's services."""

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
from wallet.forms import StatementForm, TopUpForm
from wallet.limits import limits_for_user
from wallet.selectors import deposit_get_for_user, deposit_list_for_user, tier_request_pending
from wallet.services import tier_request_create, top_up_start

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
