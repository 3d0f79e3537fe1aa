"""The staff analytics page in a real browser: an admin signs in with their
authenticator code, opens /admin/analytics/ and every chart renders (as
SVG, with its table), with no script and no accessibility violation."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.roles import ADMIN
from tests.factories import DEFAULT_PASSWORD, UserFactory, make_trade, set_prices
from tests.staff import staff_device, totp_code

pytestmark = pytest.mark.django_db(transaction=True)

CHARTS = ("volume-ugx", "success", "signups", "failures", "stuck", "prices")


def _some_days_of_trading():
    now = timezone.now()
    methods = ("mobile_money", "voucher", "balance", "bank_deposit")
    for day in range(14):
        user = UserFactory(date_joined=now - timedelta(days=day, hours=1))
        for n, method in enumerate(methods[: 1 + day % 4]):
            make_trade(
                user,
                payment_method=method,
                crypto_currency=("BTC", "ETH", "SOL")[n % 3],
                fiat_amount=Decimal(100_000 + 25_000 * ((day * 7 + n) % 9)),
                created_at=now - timedelta(days=day),
            )
        if day % 3 == 0:
            make_trade(user, status="failed", created_at=now - timedelta(days=day))
    make_trade(UserFactory(), status="pending", created_at=now - timedelta(hours=3))


def test_an_admin_sees_the_charts_render(page, shoot):
    set_prices()
    _some_days_of_trading()
    admin = UserFactory(roles=[ADMIN], is_staff=True, email="admin@example.test")
    device = staff_device(admin)

    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(totp_code(device))
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Analytics", exact=False).click()

    assert page.url.endswith("/admin/analytics/")
    for chart in CHARTS:
        svg = page.locator(f"#{chart}-svg")
        box = svg.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 50, chart
        assert page.locator(f"#{chart} table").is_visible()
    # Bars were drawn from the data: one per method and day with a volume.
    assert page.locator("#volume-ugx-svg rect[data-series]").count() >= 14
    assert page.locator("#success-svg rect[data-value]").count() == 3
    assert page.locator("#prices-svg rect[data-value]").count() == 8
    # The chart's numbers are in the table beside it.
    assert page.get_by_role("table", name="Stuck now: the numbers").is_visible()
    shoot(page, "admin-analytics")

    # A narrower period from the form.
    today = timezone.localdate()
    page.get_by_label("From").fill((today - timedelta(days=2)).isoformat())
    page.get_by_role("button", name="Show").click()
    page.locator("#volume-ugx-svg").wait_for()
    assert "start=" in page.url
