"""Customer site pages of trading (server-rendered). Thin adapters: each view
reads through trading's selectors/services and renders; no business logic."""

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from trading.money import CRYPTO_CODES, CURRENCIES, FIAT_CODES, currency
from trading.selectors.ledger import balances_for_user


def landing(request):
    rows = [
        {"code": code, "name": currency(code).name, "usd": None, "ugx": None, "change": None}
        for code in CRYPTO_CODES
    ]
    return render(
        request,
        "landing.html",
        {"price_rows": rows, "prices_at": None, "activity": []},
    )


@login_required
def dashboard(request):
    balances = balances_for_user(user=request.user)
    rows = [
        {
            "code": code,
            "name": CURRENCIES[code].name,
            "amount": balances.get(code, Decimal(0)),
            "value": None,
            "is_crypto": CURRENCIES[code].is_crypto,
        }
        for code in (*FIAT_CODES, *CRYPTO_CODES)
    ]
    return render(
        request,
        "trading/dashboard.html",
        {"fiat": "UGX", "fiats": FIAT_CODES, "balances": rows, "total": None, "recent": None},
    )
