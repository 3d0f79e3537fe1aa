"""The site's Withdraw pages (server-rendered, work without JavaScript)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import verified_required
from dtexchange.errors import DomainError, NotFound
from ledger.selectors import balances_for_user
from wallet.forms import CodeForm, WithdrawalForm
from wallet.selectors import (
    payout_number_list_for_user,
    withdrawal_get_for_user,
    withdrawal_list_for_user,
)
from wallet.services import withdrawal_cancel, withdrawal_confirm, withdrawal_create


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
