"""The site's Wallet page without JavaScript: balances, Add money (both
methods), a top-up's own page, limits, the statement form, asking for tier 2."""

import re
import uuid
from decimal import Decimal

import pytest

from tests.factories import UserFactory, fund_wallet
from wallet.models import Deposit, TierRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(client, user):
    client.force_login(user)
    return client


def test_the_wallet_page_shows_balances_limits_and_the_forms(site, user):
    fund_wallet(user, "UGX", "125000")
    page = site.get("/wallet/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "UGX 125,000" in html
    assert 'id="top-up-form"' in html and 'action="/api/wallet/statement"' in html
    assert "Buys today" in html and "tier 1" in html
    assert 'id="tier-request-form"' in html
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))


def test_adding_money_by_bank_shows_the_reference_to_quote(site, user):
    r = site.post(
        "/wallet/",
        {
            "method": "bank_deposit",
            "currency": "USD",
            "amount": "100",
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    assert r.status_code == 302
    deposit = Deposit.objects.get(user=user)
    assert r["Location"] == f"/wallet/top-ups/{deposit.public_id}/"
    page = site.get(r["Location"]).content.decode()
    assert deposit.reference_code in page
    assert "Account number" in page
    listed = site.get("/wallet/").content.decode()
    assert f'data-deposit="{deposit.public_id}"' in listed and "Pending" in listed


def test_adding_money_by_mobile_money_needs_a_valid_number(site, user, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    bad = site.post(
        "/wallet/",
        {"method": "mobile_money", "currency": "UGX", "amount": "20000", "phone_number": "12"},
    )
    assert bad.status_code == 400
    assert Deposit.objects.count() == 0
    ok = site.post(
        "/wallet/",
        {
            "method": "mobile_money",
            "currency": "UGX",
            "amount": "20000",
            "phone_number": "+256770000001",
        },
    )
    assert ok.status_code == 302
    assert Deposit.objects.get(user=user).amount == Decimal("20000")


def test_a_mobile_money_top_up_in_usd_is_refused_on_the_form(site):
    r = site.post(
        "/wallet/",
        {
            "method": "mobile_money",
            "currency": "USD",
            "amount": "20",
            "phone_number": "+256770000001",
        },
    )
    assert r.status_code == 400
    assert "takes UGX" in r.content.decode()
    assert Deposit.objects.count() == 0


def test_someone_elses_top_up_page_is_404(site):
    from wallet.services import top_up_start

    theirs = top_up_start(
        user=UserFactory(), currency="UGX", amount=Decimal("50000"), method="bank_deposit"
    )
    assert site.get(f"/wallet/top-ups/{theirs.public_id}/").status_code == 404


def test_asking_for_tier_2_from_the_page(site, user):
    r = site.post("/wallet/tier-request/", {"note": "passport"})
    assert r.status_code == 302
    assert TierRequest.objects.get(user=user).note == "passport"
    assert "with our team" in site.get("/wallet/").content.decode()


def test_the_wallet_page_asks_an_unverified_user_to_verify(client):
    client.force_login(UserFactory(email_verified_at=None))
    r = client.get("/wallet/")
    assert r.status_code == 302 and "/verify/" in r["Location"]


def test_the_statement_downloads_with_the_sites_session(site, user):
    fund_wallet(user, "UGX", "1000")
    from datetime import datetime

    from wallet.limits import EAT

    today = datetime.now(tz=EAT).date().isoformat()
    r = site.get("/api/wallet/statement", {"from": today, "to": today, "format": "csv"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
