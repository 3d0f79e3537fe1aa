"""wallet/sql.py statement by statement, on PostgreSQL: the profile lock and
the sums sent in one pipeline (the sums see a use committed while the lock
was waited for), the sums per kind and period, and recording a use."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tests.factories import UserFactory
from wallet import sql
from wallet.limits import _windows
from wallet.models import LimitUsage, WalletProfile

pytestmark = pytest.mark.django_db(transaction=True)


def record(user, reference, amount, *, kind="buy", at=None):
    sql.use_record(
        user_id=user.pk,
        kind=kind,
        reference=reference,
        currency="UGX",
        amount=Decimal(amount),
        amount_ugx=Decimal(amount),
        at=at or timezone.now(),
    )


def test_the_sums_count_each_kind_in_its_day_month_and_hour():
    user = UserFactory()
    now = timezone.now()
    windows = _windows(now)
    record(user, "buy:1", "1000")
    record(user, "buy:2", "500")
    record(user, "w:1", "300", kind="withdrawal")
    record(user, "w:old", "700", kind="withdrawal", at=windows.day[0] - timedelta(seconds=1))
    record(user, "buy:last-month", "9999", at=windows.month[0] - timedelta(seconds=1))
    LimitUsage.objects.filter(reference="buy:2").update(released_at=now)  # given back
    record(UserFactory(), "buy:other-user", "4444")

    used = sql.used(user_id=user.pk, kinds=["buy", "withdrawal", "top_up"], windows=windows)

    assert used["buy"] == sql.Used(Decimal(1000), Decimal(1000), 1)
    day_start = windows.day[0]
    old_in_month = windows.month[0] <= day_start - timedelta(seconds=1)
    assert used["withdrawal"].day == Decimal(300)
    assert used["withdrawal"].month == (Decimal(1000) if old_in_month else Decimal(300))
    assert "top_up" not in used  # nothing used: no row
    assert sql.used(user_id=user.pk, kinds=["buy"], windows=windows, excluding="buy:1") == {}


def test_recording_again_replaces_the_use_and_revives_a_released_one():
    user = UserFactory()
    record(user, "deposit:7", "1000", kind="top_up")
    LimitUsage.objects.filter(reference="deposit:7").update(released_at=timezone.now())
    record(user, "deposit:7", "1500", kind="top_up")
    use = LimitUsage.objects.get(reference="deposit:7")
    assert (use.amount_ugx, use.released_at) == (Decimal(1500), None)
    assert LimitUsage.objects.count() == 1


def test_lock_and_used_says_when_there_is_no_profile_row_yet():
    user = UserFactory()
    with transaction.atomic():
        granted, used = sql.lock_and_used(
            user_id=user.pk, kinds=["buy"], windows=_windows(timezone.now()), excluding=""
        )
    assert (granted, used) == (None, {})


def _someone_waits_on_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return True
            threading.Event().wait(0.05)
    return False


def test_the_sums_of_a_waiting_request_include_the_use_committed_before_it_got_the_lock():
    """Request A holds the limit lock and records a use; request B's lock and
    sums (one pipeline) wait, and B's sums see A's use once A commits."""
    user = UserFactory()
    WalletProfile.objects.create(user=user)
    windows = _windows(timezone.now())
    a_locked, b_sent, result = threading.Event(), threading.Event(), {}

    def request_a():
        try:
            with transaction.atomic():
                sql.lock_and_used(user_id=user.pk, kinds=["buy"], windows=windows, excluding="")
                record(user, "buy:a", "2500")
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
                    user_id=user.pk, kinds=["buy"], windows=windows, excluding=""
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=request_a), threading.Thread(target=request_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    granted, used = result["b"]
    assert granted == 1
    assert used["buy"].day == Decimal(2500)
    assert result["b_waited"]
