"""wallet/sql.py statement by statement, on PostgreSQL: the profile lock,
the totals and the use lock sent in one pipeline (the totals see a use
committed while the lock was waited for), the totals per kind and period,
recording, replacing and releasing a use."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tests.factories import UserFactory
from wallet import sql
from wallet.limits import _window, _windows
from wallet.models import LimitTotal, LimitUsage, WalletProfile

pytestmark = pytest.mark.django_db(transaction=True)


def record(user, reference, amount, *, kind="buy", at=None):
    """Record as limit_consume does: lock the use under ``reference``, then record."""
    with transaction.atomic():
        WalletProfile.objects.get_or_create(user=user)
        _, _, replacing = sql.lock_and_used(
            user_id=user.pk, kinds=[kind], windows=_windows(timezone.now()), reference=reference
        )
        sql.use_record(
            user_id=user.pk,
            kind=kind,
            reference=reference,
            currency="UGX",
            amount=Decimal(amount),
            amount_ugx=Decimal(amount),
            at=at or timezone.now(),
            replacing=replacing,
        )


def test_the_totals_count_each_kind_in_its_day_month_and_hour():
    user = UserFactory()
    now = timezone.now()
    windows = _windows(now)
    record(user, "buy:1", "1000")
    record(user, "buy:2", "500")
    record(user, "w:1", "300", kind="withdrawal")
    record(user, "w:old", "700", kind="withdrawal", at=windows.day[0] - timedelta(seconds=1))
    record(user, "buy:last-month", "9999", at=windows.month[0] - timedelta(seconds=1))
    assert sql.use_release(reference="buy:2", now=now) is True  # given back
    assert sql.use_release(reference="buy:2", now=now) is False
    record(UserFactory(), "buy:other-user", "4444")

    used = sql.used(user_id=user.pk, kinds=["buy", "withdrawal", "top_up"], windows=windows)

    assert used["buy"] == sql.Used(Decimal(1000), Decimal(1000), 1)
    day_start = windows.day[0]
    old_in_month = windows.month[0] <= day_start - timedelta(seconds=1)
    assert used["withdrawal"].day == Decimal(300)
    assert used["withdrawal"].month == (Decimal(1000) if old_in_month else Decimal(300))
    assert used["withdrawal"].hour == 1
    assert "top_up" not in used  # nothing used: no row


def test_lock_and_used_leaves_out_the_use_it_replaces_in_the_periods_it_counts_in():
    user = UserFactory()
    windows = _windows(timezone.now())
    record(user, "buy:1", "1000")
    record(user, "buy:2", "400")
    with transaction.atomic():
        _, used, replacing = sql.lock_and_used(
            user_id=user.pk, kinds=["buy"], windows=windows, reference="buy:1"
        )
    assert used["buy"] == sql.Used(Decimal(400), Decimal(400), 1)
    assert (replacing.kind, replacing.amount_ugx) == ("buy", Decimal(1000))
    # A use of another period is in none of these totals: nothing to leave out.
    record(user, "buy:old", "300", at=windows.month[0] - timedelta(seconds=1))
    with transaction.atomic():
        _, used, replacing = sql.lock_and_used(
            user_id=user.pk, kinds=["buy"], windows=windows, reference="buy:old"
        )
    assert used["buy"] == sql.Used(Decimal(1400), Decimal(1400), 2)
    assert replacing.amount_ugx == Decimal(300)
    # A released use is no longer there to replace.
    sql.use_release(reference="buy:2", now=timezone.now())
    with transaction.atomic():
        _, used, replacing = sql.lock_and_used(
            user_id=user.pk, kinds=["buy"], windows=windows, reference="buy:2"
        )
    assert (used["buy"], replacing) == (sql.Used(Decimal(1000), Decimal(1000), 1), None)


def test_recording_again_replaces_the_use_and_revives_a_released_one():
    user = UserFactory()
    windows = _windows(timezone.now())
    record(user, "deposit:7", "1000", kind="top_up")
    sql.use_release(reference="deposit:7", now=timezone.now())
    assert sql.used(user_id=user.pk, kinds=["top_up"], windows=windows)["top_up"].day == 0
    record(user, "deposit:7", "1500", kind="top_up")
    use = LimitUsage.objects.get(reference="deposit:7")
    assert (use.amount_ugx, use.released_at) == (Decimal(1500), None)
    assert LimitUsage.objects.count() == 1
    record(user, "deposit:7", "1200", kind="top_up")  # replaced while live
    assert sql.used(user_id=user.pk, kinds=["top_up"], windows=windows)["top_up"] == sql.Used(
        Decimal(1200), Decimal(1200), 1
    )


def test_lock_and_used_says_when_there_is_no_profile_row_yet():
    user = UserFactory()
    with transaction.atomic():
        granted, used, replacing = sql.lock_and_used(
            user_id=user.pk, kinds=["buy"], windows=_windows(timezone.now()), reference="x"
        )
    assert (granted, used, replacing) == (None, {}, None)


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 3, 14, 20, 59, 59, 999999, tzinfo=UTC),  # 23:59:59.999999 EAT
        datetime(2026, 3, 14, 21, 0, 0, tzinfo=UTC),  # 00:00 EAT the next day
        datetime(2026, 1, 31, 20, 59, 59, tzinfo=UTC),  # the last second of January, EAT
        datetime(2026, 1, 31, 21, 0, 0, tzinfo=UTC),  # 1 February 00:00 EAT
        datetime(2026, 12, 31, 22, 30, tzinfo=UTC),  # 1 January 01:30 EAT, the next year
        datetime(2026, 6, 1, 0, 0, tzinfo=UTC),  # 03:00 EAT, mid-day UTC midnight
    ],
)
def test_the_totals_periods_start_where_the_limits_windows_do(at):
    user = UserFactory()
    record(user, "buy:1", "100", at=at)
    starts = dict(LimitTotal.objects.filter(user=user).values_list("period", "starts_at"))
    assert starts == {period: _window(period, at)[0] for period in ("day", "hour", "month")}


def _someone_waits_on_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return True
            threading.Event().wait(0.05)
    return False


def test_the_totals_of_a_waiting_request_include_the_use_committed_before_it_got_the_lock():
    """Request A holds the limit lock and records a use; request B's lock and
    totals (one pipeline) wait, and B's totals see A's use once A commits."""
    user = UserFactory()
    WalletProfile.objects.create(user=user)
    windows = _windows(timezone.now())
    a_locked, b_sent, result = threading.Event(), threading.Event(), {}

    def request_a():
        try:
            with transaction.atomic():
                sql.lock_and_used(
                    user_id=user.pk, kinds=["buy"], windows=windows, reference="buy:a"
                )
                sql.use_record(
                    user_id=user.pk,
                    kind="buy",
                    reference="buy:a",
                    currency="UGX",
                    amount=Decimal(2500),
                    amount_ugx=Decimal(2500),
                    at=timezone.now(),
                    replacing=None,
                )
                a_locked.set()
                assert b_sent.wait(10)
                # B is blocked on the row lock while A is still open.
                result["b_waited"] = _someone_waits_on_a_row_lock()
        finally:
            connection.close()

    def request_b():
        try:
            assert a_locked.wait(10)
            b_sent.set()
            with transaction.atomic():
                result["b"] = sql.lock_and_used(
                    user_id=user.pk, kinds=["buy"], windows=windows, reference="buy:b"
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=request_a), threading.Thread(target=request_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    granted, used, _ = result["b"]
    assert granted == 1
    assert used["buy"].day == Decimal(2500)
    assert result["b_waited"]
