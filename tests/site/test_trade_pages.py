"""The trade pages without JavaScript: plain form posts through every step."""

from decimal import Decimal

import pytest
from django.utils import timezone

from ledger.selectors import balance_get
from tests.factories import UserFactory, fund_wallet
from tests.site.trade_form import confirm_fields, review_step
from trading.models import Quote, Trade

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices", "reserves")]

BUY = {
    "trade_type": "buy",
    "crypto_currency": "BTC",
    "fiat_currency": "UGX",
    "amount": "360000",
    "payment_method": "balance",
}


def test_dashboard_shows_each_balance_and_its_value_in_the_chosen_fiat(signed_in, customer):
    fund_wallet(customer, "UGX", "250000")
    fund_wallet(customer, "BTC", "0.00125")
    html = signed_in.get("/dashboard/").content.decode()
    assert "UGX 250,000" in html
    assert "0.00125000 BTC" in html
    assert "UGX 450,000" in html  # 0.00125 BTC at UGX 360,000,000
    assert "UGX 700,000" in html  # the total
    usd = signed_in.get("/dashboard/?fiat=USD").content.decode()
    assert "$125.00" in usd  # 0.00125 BTC at $100,000
    # The choice sticks for the session.
    assert "Value in USD" in signed_in.get("/dashboard/").content.decode()


def test_buy_from_the_wallet_review_then_confirm(signed_in, customer):
    fund_wallet(customer, "UGX", "500000")
    page = signed_in.get("/trade/")
    assert page.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in page.content
    review = review_step(signed_in, BUY)
    html = review.content.decode()
    assert "Confirm your purchase" in html
    assert "UGX 360,000" in html
    assert "UGX 1,800" in html  # 0.5% fee
    assert "0.00099500 BTC" in html  # (360,000 - 1,800) / 360,000,000
    assert 'data-expires="' in html
    done = signed_in.post("/trade/", confirm_fields(review))
    assert done.status_code == 302
    trade = Trade.objects.get(user=customer)
    assert done["Location"] == f"/trades/{trade.public_id}/"
    assert trade.status == "completed"
    assert balance_get(user=customer, currency="BTC") == Decimal("0.000995")
    assert balance_get(user=customer, currency="UGX") == Decimal("140000")
    detail = signed_in.get(done["Location"]).content.decode()
    assert "Completed" in detail
    assert "0.00099500 BTC" in detail
    # Sending the same confirm again (double click, back button) is the same trade.
    signed_in.post("/trade/", confirm_fields(review))
    assert Trade.objects.filter(user=customer).count() == 1


def test_sell_to_the_wallet(signed_in, customer):
    fund_wallet(customer, "BTC", "0.01")
    review = review_step(
        signed_in,
        {**BUY, "trade_type": "sell", "amount": "0.005", "payment_method": "balance"},
    )
    assert "Confirm your sale" in review.content.decode()
    done = signed_in.post("/trade/", confirm_fields(review))
    assert done.status_code == 302
    assert balance_get(user=customer, currency="BTC") == Decimal("0.005")
    # 0.005 BTC x 360,000,000 = 1,800,000; fee 0.5% = 9,000
    assert balance_get(user=customer, currency="UGX") == Decimal("1791000")


def test_an_expired_price_is_replaced_by_a_new_one_to_confirm(signed_in, customer):
    fund_wallet(customer, "UGX", "500000")
    review = review_step(signed_in, BUY)
    Quote.objects.update(expires_at=timezone.now())
    again = signed_in.post("/trade/", confirm_fields(review))
    assert again.status_code == 200
    assert "The price moved on" in again.content.decode()
    assert Trade.objects.count() == 0
    fields = confirm_fields(again)
    assert fields["quote_id"] != confirm_fields(review)["quote_id"]
    assert signed_in.post("/trade/", fields).status_code == 302


def test_mistakes_are_explained_on_the_form(signed_in, customer):
    missing = signed_in.post("/trade/", {**BUY, "amount": "", "step": "review"})
    assert missing.status_code == 400
    assert "Enter an amount." in missing.content.decode()
    fund_wallet(customer, "UGX", "1000")
    review = review_step(signed_in, BUY)
    poor = signed_in.post("/trade/", confirm_fields(review))
    assert poor.status_code == 400
    assert "errorlist" in poor.content.decode() or "alert error" in poor.content.decode()
    assert Trade.objects.count() == 0


def test_forms_without_a_csrf_token_are_refused(customer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    assert client.post("/trade/", {**BUY, "step": "review"}).status_code == 403


def test_history_filters_and_pages(signed_in, customer):
    fund_wallet(customer, "UGX", "10000000")
    for _ in range(3):
        review = review_step(signed_in, {**BUY, "amount": "10000"})
        signed_in.post("/trade/", confirm_fields(review))
    fund_wallet(customer, "BTC", "1")
    review = review_step(signed_in, {**BUY, "trade_type": "sell", "amount": "0.001"})
    signed_in.post("/trade/", confirm_fields(review))
    all_ = signed_in.get("/trades/").content.decode()
    assert all_.count("data-trade=") == 4
    sells = signed_in.get("/trades/?trade_type=sell").content.decode()
    assert sells.count("data-trade=") == 1
    none = signed_in.get("/trades/?status=failed").content.decode()
    assert "No trades match these filters" in none


def test_history_paginates(signed_in, customer):
    _bulk_trades(customer, 45)
    first = signed_in.get("/trades/").content.decode()
    assert first.count("data-trade=") == 20
    assert 'rel="next"' in first and 'rel="prev"' not in first
    last = signed_in.get("/trades/?page=3").content.decode()
    assert last.count("data-trade=") == 5
    assert 'rel="prev"' in last and 'rel="next"' not in last
    beyond = signed_in.get("/trades/?page=99")
    assert beyond.status_code == 200
    assert "No more trades" in beyond.content.decode()


def test_someone_elses_trade_is_not_found(signed_in):
    other = UserFactory()
    [trade] = _bulk_trades(other, 1)
    assert signed_in.get(f"/trades/{trade.public_id}/").status_code == 404
    assert signed_in.post(f"/trades/{trade.public_id}/cancel/").status_code == 404


def test_pages_need_a_signed_in_user(client):
    for path in ("/dashboard/", "/trade/", "/trades/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def _bulk_trades(user, n: int, *, status: str = "completed") -> list[Trade]:
    now = timezone.now()
    return Trade.objects.bulk_create(
        Trade(
            user=user,
            trade_type="buy" if i % 3 else "sell",
            crypto_currency="BTC",
            fiat_currency="UGX",
            crypto_amount=Decimal("0.001"),
            fiat_amount=Decimal("360000"),
            fee_amount=Decimal("1800"),
            fee_rate=Decimal("0.005"),
            exchange_rate=Decimal("360000000"),
            payment_method="balance",
            status=status,
            created_at=now - timezone.timedelta(minutes=i),
            updated_at=now,
        )
        for i in range(n)
    )


def test_a_pending_trade_can_be_cancelled_from_its_page(signed_in, customer):
    from tests.factories import ExternalTestMethod
    from trading import payment_methods

    method = ExternalTestMethod.build()
    payment_methods.register(method)
    try:
        review = review_step(signed_in, {**BUY, "payment_method": "test_external"})
        done = signed_in.post("/trade/", confirm_fields(review))
        detail = signed_in.get(done["Location"]).content.decode()
        assert "Waiting for your payment" in detail
        assert "Cancel this trade" in detail
        trade = Trade.objects.get(user=customer)
        cancelled = signed_in.post(f"/trades/{trade.public_id}/cancel/", follow=True)
        assert "Nothing was charged" in cancelled.content.decode()
        trade.refresh_from_db()
        assert trade.status == "cancelled"
        timeline = signed_in.get(f"/trades/{trade.public_id}/").content.decode()
        assert "Trade started" in timeline
        assert "Cancelled" in timeline
    finally:
        payment_methods.unregister(method.code)


def test_landing_shows_prices_and_completed_trades_without_who(signed_in, customer, client):
    fund_wallet(customer, "UGX", "500000")
    review = review_step(signed_in, BUY)
    signed_in.post("/trade/", confirm_fields(review))
    signed_in.post("/logout/")
    html = client.get("/").content.decode()
    assert "$100,000.00" in html
    assert "UGX 360,000,000" in html
    assert "Someone bought 0.001 BTC" in html  # 0.000995 to 2 significant digits
    assert customer.email not in html
