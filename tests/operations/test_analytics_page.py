"""The staff analytics page: the admin role sees each chart with its numbers,
nobody else does, a bad period is a 400, and the query count does not grow
with the data."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import ADMIN, DEPOSIT_REVIEWER
from operations.selectors import Period, analytics_signups, analytics_trade_outcomes
from tests.factories import UserFactory, make_trade, set_prices
from tests.staff import staff_sign_in

pytestmark = pytest.mark.django_db
URL = "/admin/analytics/"


@pytest.fixture
def admin_client(client):
    return staff_sign_in(client, UserFactory(roles=[ADMIN], is_staff=True))


def _period_params(days_back=6):
    today = timezone.localdate()
    return {"start": (today - timedelta(days=days_back)).isoformat(), "end": today.isoformat()}


def test_the_page_shows_each_chart_with_its_numbers(admin_client):
    set_prices()
    now = timezone.now()
    customer = UserFactory()
    make_trade(customer, fiat_amount=Decimal("250000"), created_at=now)
    make_trade(customer, payment_method="voucher", fiat_amount=Decimal("50000"), created_at=now)
    make_trade(customer, status="failed", created_at=now)
    make_trade(customer, crypto_currency="ETH", status="expired", created_at=now)
    make_trade(customer, status="pending", created_at=now - timedelta(hours=2))

    page = admin_client.get(URL, _period_params())

    assert page.status_code == 200
    html = page.content.decode()
    for chart in ("volume-ugx", "success", "signups", "failures", "stuck", "prices"):
        assert f'id="{chart}"' in html and f'id="{chart}-svg"' in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == 6
    # Volume: 250,000 by mobile money and 50,000 by voucher today (table and bars).
    assert "250,000" in html and "50,000" in html and "300,000" in html
    assert 'data-series="mobile_money"' in html and 'data-value="250000' in html
    # BTC: 2 completed of 3 finished (the pending one is in flight); ETH 0 of 1.
    assert "66.7%" in html and "0.0%" in html
    # The pending mobile-money trade is past its SLA (45 minutes).
    assert "Trades past their SLA (mobile_money" in html
    assert "BTC/UGX" in html and "fresh" in html


def test_success_rate_counts_finished_trades_only():
    user = UserFactory()
    for status in ("completed", "completed", "completed", "failed", "pending"):
        make_trade(user, status=status)
    outcomes = analytics_trade_outcomes(period=Period(timezone.localdate(), timezone.localdate()))
    assert outcomes.by_currency["BTC"] == {"completed": 3, "failed": 1, "pending": 1}
    assert outcomes.success_rate("BTC") == Decimal("75.0")
    assert outcomes.success_rate("SOL") is None


def test_retention_counts_who_traded_again_after_7_and_30_days():
    now = timezone.now()
    joined = now - timedelta(days=40)
    back_after_31 = UserFactory(date_joined=joined)
    make_trade(back_after_31, created_at=joined + timedelta(days=1))
    make_trade(back_after_31, created_at=joined + timedelta(days=31))
    back_after_8 = UserFactory(date_joined=joined)
    make_trade(back_after_8, created_at=joined + timedelta(days=8))
    only_first_day = UserFactory(date_joined=joined)
    make_trade(only_first_day, created_at=joined + timedelta(hours=1))
    UserFactory(date_joined=joined)  # never traded
    recent = UserFactory(date_joined=now - timedelta(days=2))
    make_trade(recent, created_at=now)

    days = analytics_signups(
        period=Period(timezone.localdate(joined), timezone.localdate(now)), now=now
    )
    first = days[0]
    assert (first.signups, first.traded) == (4, 3)
    assert (first.again_7, first.eligible_7) == (2, 4)
    assert (first.again_30, first.eligible_30) == (1, 4)
    last_signup = next(d for d in days if d.day == timezone.localdate(recent.date_joined))
    assert (last_signup.signups, last_signup.traded, last_signup.eligible_7) == (1, 1, 0)


def test_the_query_count_does_not_grow_with_the_trades(admin_client):
    user = UserFactory()
    make_trade(user)
    params = _period_params(30)
    admin_client.get(URL, params)  # warm: the session, the user's groups
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(URL, params).status_code == 200
    for day in range(20):
        for method in ("mobile_money", "voucher", "balance"):
            make_trade(
                UserFactory(), payment_method=method, created_at=timezone.now() - timedelta(day)
            )
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(URL, params).status_code == 200
    assert len(many) == len(few)


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-01-10", "end": "2026-01-01"},  # ends before it starts
        {"start": "2025-01-01", "end": "2026-01-01"},  # longer than ANALYTICS_MAX_DAYS
        {"start": "yesterday", "end": "2026-01-01"},
        {"start": "2026-01-01"},
    ],
)
def test_a_bad_period_is_a_400_that_says_why(admin_client, params):
    page = admin_client.get(URL, params)
    assert page.status_code == 400
    assert b'class="errorlist"' in page.content
    assert b'class="chart"' not in page.content


def test_other_staff_and_customers_cannot_see_it(client):
    assert client.get(URL).status_code == 302  # to the admin's log-in
    staff_sign_in(client, UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True))
    assert client.get(URL).status_code == 403


def test_the_admin_index_links_to_it_and_lists_open_alerts(admin_client):
    from operations.models import Alert

    Alert.objects.create(rule="outbox_backlog", summary="the oldest is 9 min old")
    index = admin_client.get("/admin/").content.decode()
    assert 'href="/admin/analytics/"' in index
    assert "Open alerts (1)" in index and "the oldest is 9 min old" in index
