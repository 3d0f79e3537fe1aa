"""Customer site pages of trading (server-rendered). Thin adapters: each view
reads through trading's selectors/services and renders; no business logic."""

from django.shortcuts import render

from trading.money import CRYPTO_CODES, currency


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
