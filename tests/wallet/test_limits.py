"""Limits by tier: GET /api/wallet/limits, limit_exceeded on buys and
top-ups, 20 parallel buys on real threads against the daily limit, tiers set
by staff (audited) and requested by users."""

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.roles import ADMIN, DEPOSIT_REVIEWER
from audit.models import AuditEvent
from ledger.selectors import balance_get
from tests.factories import UserFactory, fund_wallet, ledger_rows
from tests.wallet.conftest import small_limits
from trading.models import Trade
from trading.services import trade_buy, trade_cancel
from wallet import sql
from wallet.limits import EAT, LimitExceeded, limit_consume, limit_release, limits_for_user
from wallet.models import LimitUsage, TierRequest
from wallet.services import tier_request_decide, tier_set, top_up_start
from wallet.services.tiers import TierChangeRefused


def buy(user, amount="100000", method="balance", fiat="UGX"):
    return trade_buy(
        user=user,
        crypto_currency="BTC",
        fiat_currency=fiat,
        amount=Decimal(amount),
        payment_method=method,
    )


@pytest.mark.django_db
def test_the_limits_route_names_every_limit_with_what_is_used(api, user, market):
    fund_wallet(user, "UGX", "1000000")
    buy(user, "250000")
    body = api.get("/api/wallet/limits").json()
    assert body["tier"] == 1 and body["tier_request"] is None
    rows = {row["name"]: row for row in body["limits"]}
    assert set(rows) == {
        "buy_daily",
        "buy_monthly",
        "withdrawal_daily",
        "withdrawal_monthly",
        "withdrawals_per_hour",
        "top_up_daily",
        "top_up_monthly",
    }
    daily = rows["buy_daily"]
    assert (daily["currency"], daily["period"], daily["limit"], daily["used"]) == (
        "UGX",
        "day",
        "20000000",
        "250000",
    )
    assert daily["remaining"] == "19750000"
    resets = datetime.fromisoformat(daily["resets_at"]).astimezone(EAT)
    assert (resets.hour, resets.minute) == (0, 0)
    assert datetime.fromisoformat(rows["buy_monthly"]["resets_at"]).astimezone(EAT).day == 1
    assert rows["withdrawals_per_hour"]["currency"] is None
    assert rows["withdrawals_per_hour"]["period"] == "hour"


@pytest.mark.django_db
def test_a_buy_above_the_daily_limit_is_409_naming_it_and_writes_nothing(
    api, user, market, settings
):
    small_limits(settings, buy=("300000", "5000000"))
    fund_wallet(user, "UGX", "1000000")
    buy(user, "200000")
    before = (ledger_rows(), Trade.objects.count(), LimitUsage.objects.count())
    r = api.post(
        "/api/trading/buy",
        {
            "crypto_currency": "BTC",
            "fiat_currency": "UGX",
            "amount": "150000",
            "payment_method": "balance",
        },
        format="json",
    )
    assert r.status_code == 409, r.json()
    error = r.json()["error"]
    assert error["code"] == "limit_exceeded"
    assert error["details"]["limit"] == "buy_daily"
    assert error["details"]["remaining"] == "100000"
    assert error["details"]["requested"] == "150000"
    assert datetime.fromisoformat(error["details"]["resets_at"]) > datetime.now(tz=EAT)
    assert (ledger_rows(), Trade.objects.count(), LimitUsage.objects.count()) == before
    assert balance_get(user=user, currency="UGX") == Decimal("800000")
    # The published schema lists the code among the 409 answers.
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "limit_exceeded" in schema["components"]["schemas"]["Error409CodeEnum"]["enum"]


@pytest.mark.django_db
def test_usd_counts_in_ugx_at_the_feeds_rate(user, market, settings):
    small_limits(settings, buy=("400000", "5000000"))
    fund_wallet(user, "USD", "1000.00")
    buy(user, "100.00", fiat="USD")  # 100 USD at 3,600 UGX = 360,000 UGX
    [usage] = LimitUsage.objects.filter(user=user)
    assert usage.amount_ugx == Decimal("360000")
    with pytest.raises(LimitExceeded) as refused:
        buy(user, "20.00", fiat="USD")  # 72,000 more: past 400,000
    assert refused.value.details["limit"] == "buy_daily"


@pytest.mark.django_db
def test_a_cancelled_or_failed_buy_gives_its_limit_back(user, market, settings):
    small_limits(settings, buy=("300000", "5000000"))
    trade = buy(user, "250000", method="bank_deposit")
    with pytest.raises(LimitExceeded):
        buy(user, "100000", method="bank_deposit")
    trade_cancel(trade=trade, user=user)
    assert buy(user, "250000", method="bank_deposit").status == "pending"


@pytest.mark.django_db
def test_a_top_up_above_the_limit_is_refused_at_the_start(api, user, settings):
    small_limits(settings, top_up=("1000000", "5000000"))
    body = {"currency": "UGX", "amount": "800000", "method": "bank_deposit"}
    assert api.post("/api/wallet/deposits", body, format="json").status_code == 201
    from payments.models import BankDeposit
    from wallet.models import Deposit

    before = (ledger_rows(), Deposit.objects.count(), BankDeposit.objects.count())
    usage = list(LimitUsage.objects.values_list("reference", "amount", "released_at"))
    r = api.post("/api/wallet/deposits", body, format="json")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "limit_exceeded"
    assert r.json()["error"]["details"]["limit"] == "top_up_daily"
    assert (ledger_rows(), Deposit.objects.count(), BankDeposit.objects.count()) == before
    assert list(LimitUsage.objects.values_list("reference", "amount", "released_at")) == usage


@pytest.mark.django_db
def test_the_velocity_limit_counts_withdrawals_in_the_hour(user, settings):
    from django.db import transaction

    settings.WALLET_LIMITS = {
        **settings.WALLET_LIMITS,
        1: {**settings.WALLET_LIMITS[1], "withdrawals_per_hour": 2},
    }
    for n in range(2):
        with transaction.atomic():
            limit_consume(
                user=user,
                kind="withdrawal",
                currency="UGX",
                amount=Decimal(1000),
                reference=f"w{n}",
            )
    with pytest.raises(LimitExceeded) as refused, transaction.atomic():
        limit_consume(
            user=user, kind="withdrawal", currency="UGX", amount=Decimal(1000), reference="w2"
        )
    assert refused.value.details["limit"] == "withdrawals_per_hour"
    assert limit_release(reference="w0") is True
    assert limit_release(reference="w0") is False
    with transaction.atomic():
        limit_consume(
            user=user, kind="withdrawal", currency="UGX", amount=Decimal(1000), reference="w2"
        )


@pytest.mark.django_db
def test_limits_count_in_east_africa_days(user, settings):
    """A use at 23:30 EAT yesterday is yesterday's, however UTC sees it."""
    now = datetime.now(tz=EAT)
    start_of_today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    sql.use_record(  # as limit_consume records it, with the use's own time
        user_id=user.pk,
        kind="buy",
        reference="yesterday",
        currency="UGX",
        amount=Decimal(5000),
        amount_ugx=Decimal(5000),
        at=start_of_today - timedelta(minutes=30),
        replacing=None,
    )
    _, states = limits_for_user(user=user)
    used = {s.name: s.used for s in states}
    assert used["buy_daily"] == 0
    same_month = (start_of_today - timedelta(minutes=30)).month == now.month
    assert used["buy_monthly"] == (Decimal(5000) if same_month else 0)


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_buys_pass_the_daily_limit_exactly_as_far_as_it_allows(settings):
    """Each thread its own database connection; the balance covers all 20,
    the daily limit only 10: exactly 10 succeed and the rest are 409."""
    from tests.factories import fund_reserves, set_prices

    set_prices()
    fund_reserves()
    user = UserFactory()
    small_limits(settings, buy=("1000000", "50000000"))
    fund_wallet(user, "UGX", "5000000")
    barrier = threading.Barrier(20)
    results = []

    def one():
        try:
            barrier.wait()
            try:
                buy(user, "100000")
                results.append("ok")
            except LimitExceeded as exc:
                results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["limit_exceeded"] * 10 + ["ok"] * 10
    assert Trade.objects.filter(user=user, status="completed").count() == 10
    assert balance_get(user=user, currency="UGX") == Decimal("4000000")
    _, states = limits_for_user(user=user)
    assert {s.name: s.used for s in states}["buy_daily"] == Decimal("1000000")


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_top_up_starts_stop_at_the_limit(settings):
    user = UserFactory()
    small_limits(settings, top_up=("1000000", "50000000"))
    barrier = threading.Barrier(20)
    results = []

    def one():
        try:
            barrier.wait()
            try:
                top_up_start(
                    user=user, currency="UGX", amount=Decimal("150000"), method="bank_deposit"
                )
                results.append("ok")
            except LimitExceeded as exc:
                results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 6  # 6 x 150,000 = 900,000; a 7th would pass 1,000,000
    assert results.count("limit_exceeded") == 14


@pytest.mark.django_db
def test_staff_raise_a_tier_audited_and_the_limits_follow(user):
    admin = UserFactory(roles=[ADMIN], is_staff=True)
    assert tier_set(user=user, tier=2, actor=admin, reason="Passport checked") == 2
    tier, states = limits_for_user(user=user)
    assert tier == 2
    assert {s.name: s.limit for s in states}["buy_daily"] == Decimal("400000000")
    event = AuditEvent.objects.filter(action="wallet.tier_set").latest("seq")
    assert (event.before, event.after) == ({"tier": 1}, {"tier": 2})
    assert event.data["reason"] == "Passport checked"
    with pytest.raises(TierChangeRefused):
        tier_set(user=admin, tier=2, actor=admin, reason="me")
    with pytest.raises(TierChangeRefused):
        tier_set(user=user, tier=1, actor=UserFactory(), reason="not staff")


@pytest.mark.django_db
def test_an_unverified_email_is_tier_0(api):
    unverified = UserFactory(email_verified_at=None)
    tier, states = limits_for_user(user=unverified)
    assert tier == 0
    assert all(s.limit == 0 for s in states)


@pytest.mark.django_db
def test_a_user_asks_for_tier_2_and_a_reviewer_decides(api, user):
    r = api.post("/api/wallet/limits/tier-request", {"note": "My ID is ready"}, format="json")
    assert r.status_code == 201 and r.json()["status"] == "pending"
    again = api.post("/api/wallet/limits/tier-request", {}, format="json")
    assert again.status_code == 409
    assert api.get("/api/wallet/limits").json()["tier_request"] == "pending"
    reviewer = UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)
    request = TierRequest.objects.get(user=user)
    tier_request_decide(request_id=request.pk, actor=reviewer, approve=True, note="ID matched")
    assert api.get("/api/wallet/limits").json()["tier"] == 2
    assert api.post("/api/wallet/limits/tier-request", {}, format="json").status_code == 409
    assert AuditEvent.objects.filter(action="wallet.tier_request_decide").count() == 1


@pytest.mark.django_db
def test_the_admin_sets_a_tier_and_decides_requests(client, user):
    from tests.staff import staff_sign_in
    from wallet.models import WalletProfile

    admin = UserFactory(roles=[ADMIN], is_staff=True)
    staff_sign_in(client, admin)
    profile, _ = WalletProfile.objects.get_or_create(user=user)
    page = client.get(f"/admin/wallet/walletprofile/{profile.pk}/set-tier/")
    assert page.status_code == 200
    r = client.post(
        f"/admin/wallet/walletprofile/{profile.pk}/set-tier/", {"tier": "2", "reason": "ID seen"}
    )
    assert r.status_code == 302
    assert limits_for_user(user=user)[0] == 2
    other = UserFactory()
    asked = TierRequest.objects.create(user=other)
    assert client.get("/admin/wallet/tierrequest/").status_code == 200
    r = client.post(
        f"/admin/wallet/tierrequest/{asked.pk}/decide/", {"decision": "reject", "note": "Blurry"}
    )
    assert r.status_code == 302
    asked.refresh_from_db()
    assert asked.status == "rejected" and asked.decided_by == admin
    customer = APIClient()
    customer.force_authenticate(other)
    assert customer.get("/api/wallet/limits").json()["tier"] == 1


def test_trading_counts_buys_through_a_hook_and_refuses_a_buy_without_one(monkeypatch):
    """trading does not import wallet: the buy limits reach it through the
    hook the wallet registers at start-up; with none registered a buy fails
    closed instead of going through unlimited."""
    import re
    from pathlib import Path

    from trading import buy_limits

    trading_dir = Path(buy_limits.__file__).parent
    for source in trading_dir.rglob("*.py"):
        text = source.read_text()
        assert not re.search(r"^\s*(from|import) wallet\b", text, re.MULTILINE), source
    monkeypatch.setattr(buy_limits, "_consume", None)
    with pytest.raises(RuntimeError):
        buy_limits.consume(user=None, currency="UGX", amount=1, reference="x")
