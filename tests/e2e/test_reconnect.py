"""The live client's behaviour when the socket drops, in a real browser.

Playwright stands in for the socket's far end at the network layer
(``route_web_socket``), so the test decides exactly when the connection drops
and when it may come back; the page and static/js/live.js are the real ones.
"""

import json
import time

import pytest
from playwright.sync_api import expect

from tests.factories import set_prices

pytestmark = pytest.mark.django_db(transaction=True)


class FarEnd:
    """The server side of /ws/trading as the browser sees it."""

    def __init__(self, page):
        self.page = page
        self.sockets = []
        self.received: list[list[dict]] = []
        self.refuse = 0  # drop this many new connections at once

    def handle(self, ws) -> None:
        if self.refuse > 0:
            self.refuse -= 1
            ws.close()
            return
        inbox: list[dict] = []
        self.sockets.append(ws)
        self.received.append(inbox)
        ws.on_message(lambda message: inbox.append(json.loads(message)))

    def wait_for_connections(self, n: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while len(self.sockets) < n:
            assert time.monotonic() < deadline, f"{len(self.sockets)} connections, wanted {n}"
            self.page.wait_for_timeout(50)

    def push(self, kind: str, data: dict) -> None:
        self.sockets[-1].send(json.dumps({"type": kind, "event_id": 1, "data": data}))


@pytest.fixture
def far_end(page):
    end = FarEnd(page)
    page.route_web_socket("**/ws/trading", end.handle)
    return end


def test_a_dropped_socket_reconnects_quietly_and_authenticates_again(page, far_end, shoot):
    set_prices()
    page.goto("/")
    far_end.wait_for_connections(1)
    page.evaluate("() => window.dtxLive.authenticate('the-access-token')")
    far_end.push("price_update", {"crypto": "BTC", "fiat": "USD", "price": "101000", "change": "1"})
    expect(page.locator('[data-price="BTC-USD"]')).to_have_text("$101,000.00")
    expect(page.locator("#live-state")).to_be_hidden()

    # The connection drops and the next two attempts fail: a quiet notice shows.
    far_end.refuse = 2
    far_end.sockets[-1].close()
    expect(page.locator("#live-state")).to_have_text("Reconnecting…")
    shoot(page, "landing-reconnecting")

    # Back: the notice goes, the token is sent again, and updates flow as before.
    far_end.wait_for_connections(2)
    expect(page.locator("#live-state")).to_be_hidden()
    deadline = time.monotonic() + 5
    while {"type": "authenticate", "token": "the-access-token"} not in far_end.received[-1]:
        assert time.monotonic() < deadline, far_end.received
        page.wait_for_timeout(50)
    far_end.push(
        "activity",
        {"crypto_currency": "ETH", "trade_type": "buy", "amount": "0.5", "at": "2026-11-25"},
    )
    expect(page.locator("#activity li").first).to_have_text("Someone bought 0.5 ETHjust now")
    far_end.push("announcement", {"title": "Maintenance", "body": "Tonight 22:00 to 23:00 EAT."})
    expect(page.locator("#announcement")).to_be_visible()
    expect(page.locator("#announcement-text")).to_contain_text("Tonight 22:00")
    far_end.push(
        "notification", {"title": "Deposit received", "body": "UGX 50,000", "level": "success"}
    )
    expect(page.locator("#toasts .toast.success")).to_contain_text("Deposit received")
    assert page.evaluate("() => window.dtxLive.connects") == 2


def test_the_dashboard_updates_balances_and_trade_rows_when_a_trade_settles(page, far_end, sign_in):
    from tests.factories import UserFactory, fund_wallet

    set_prices()
    user = UserFactory(email="kato@example.com")
    fund_wallet(user, "UGX", "1000")
    sign_in(page, user)
    page.goto("/dashboard/")
    far_end.wait_for_connections(1)
    page.evaluate("() => { window.__sameDocument = true; }")
    expect(page.locator('[data-balance="UGX"]')).to_have_text("UGX 1,000")

    fund_wallet(user, "UGX", "49000")  # e.g. a sale paid into the wallet
    far_end.push(
        "trade_update",
        {
            "trade_id": "5b7c1d2e-0000-4000-8000-000000000001",
            "status": "completed",
            "previous_status": "pending",
            "trade_type": "sell",
            "crypto_currency": "BTC",
            "crypto_amount": "0.0001",
            "payment_method": "balance",
        },
    )
    expect(page.locator('[data-balance="UGX"]')).to_have_text("UGX 50,000")
    expect(page.locator("#toasts .toast.success")).to_contain_text("Completed")
    assert page.evaluate("() => window.__sameDocument") is True
