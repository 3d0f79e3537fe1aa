"""The public pages in a real browser: rendered, styled, live client running."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_landing_page_renders_with_prices_and_a_live_socket(page, shoot):
    page.goto("/")
    assert page.title().startswith("DT Exchange")
    for code in ("BTC", "ETH", "SOL", "TRX"):
        assert page.locator(f'[data-price="{code}-USD"]').is_visible()
        assert page.locator(f'[data-price="{code}-UGX"]').is_visible()
    # The design system is applied (stylesheet loaded under the CSP).
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(245, 247, 250)"
    primary = page.locator(".button.primary").first
    assert primary.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 48, 135)"
    shoot(page, "landing")
    # On a phone the primary action spans the width.
    page.set_viewport_size({"width": 360, "height": 780})
    box = primary.bounding_box()
    assert box["width"] > 300


def test_login_page_and_a_friendly_404(page, shoot):
    page.goto("/login/")
    assert page.get_by_label("Email address").is_visible()
    shoot(page, "login")
    response = page.goto("/no-such-page/")
    assert response.status == 404
    assert page.get_by_role("heading", name="We couldn't find that page").is_visible()
    shoot(page, "not-found")


def test_landing_prices_tick_without_reloading(page):
    from playwright.sync_api import expect

    from tests.factories import set_prices

    set_prices()
    page.goto("/")
    cell = page.locator('[data-price="BTC-USD"]')
    expect(cell).to_have_text("$100,000.00")
    page.evaluate("() => { window.__sameDocument = true; }")
    set_prices({("BTC", "USD"): "100250.5"})  # a new price snapshot on the server
    expect(cell).to_have_text("$100,250.50", timeout=20_000)
    assert page.evaluate("() => window.__sameDocument") is True
