"""The running totals the limit check reads (LimitTotal) stay equal to the
sums of the live uses (LimitUsage): after a random mix of consuming,
consuming again (another amount, kind or time), releasing and reviving;
with a release and a consume of one user racing on real threads (never a
deadlock); and after the migration that fills them from existing uses."""

import random
import threading
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import UserFactory
from wallet import sql
from wallet.limits import _window, _windows, limit_consume, limit_release, limits_for_user
from wallet.models import LimitTotal, LimitUsage, WalletProfile

pytestmark = pytest.mark.django_db(transaction=True)

PERIODS = ("day", "hour", "month")


def sums_of_live_uses() -> dict:
    """What the totals must be, from the uses themselves, periods cut in Python."""
    expected: dict = defaultdict(lambda: [Decimal(0), 0])
    for user_id, kind, amount_ugx, at in LimitUsage.objects.filter(
        released_at__isnull=True
    ).values_list("user_id", "kind", "amount_ugx", "at"):
        for period in PERIODS:
            total = expected[(user_id, kind, period, _window(period, at)[0])]
            total[0] += amount_ugx
            total[1] += 1
    return {key: tuple(value) for key, value in expected.items()}


def totals() -> dict:
    """The totals rows, without the ones every use has left (they stay at zero)."""
    return {
        (user_id, kind, period, starts_at): (amount_ugx, uses)
        for user_id, kind, period, starts_at, amount_ugx, uses in LimitTotal.objects.values_list(
            "user_id", "kind", "period", "starts_at", "amount_ugx", "uses"
        )
        if amount_ugx or uses
    }


def record_at(user, reference, kind, amount, at):
    """A use recorded at a chosen time, through the statements limit_consume runs."""
    with transaction.atomic():
        WalletProfile.objects.get_or_create(user=user)
        _, _, replacing = sql.lock_and_used(
            user_id=user.pk, kinds=[kind], windows=_windows(at), reference=reference
        )
        sql.use_record(
            user_id=user.pk,
            kind=kind,
            reference=reference,
            currency="UGX",
            amount=amount,
            amount_ugx=amount,
            at=at,
            replacing=replacing,
        )


def test_the_totals_equal_the_sums_of_the_live_uses_after_any_mix_of_uses():
    rng = random.Random(20261202)
    users = [UserFactory(), UserFactory()]
    now = timezone.now()
    windows = _windows(now)
    # Times on both sides of the current day's, hour's and month's start.
    times = [
        now,
        windows.hour[0] - timedelta(microseconds=1),
        windows.day[0] - timedelta(seconds=1),
        windows.day[0],
        windows.month[0] - timedelta(seconds=1),
        now - timedelta(days=40),
    ]
    kinds = ["buy", "withdrawal", "top_up"]
    for step in range(300):
        user = rng.choice(users)
        reference = f"{user.pk}:{rng.randrange(12)}"
        amount = Decimal(rng.randrange(1, 500_000))
        action = rng.choice(["consume", "consume", "record_at", "release"])
        if action == "consume":
            with transaction.atomic():
                limit_consume(
                    user=user,
                    kind=rng.choice(kinds),
                    currency="UGX",
                    amount=amount,
                    reference=reference,
                    allow_over=True,
                )
        elif action == "record_at":
            record_at(user, reference, rng.choice(kinds), amount, rng.choice(times))
        else:
            limit_release(reference=reference)
        if step % 25 == 0 or step == 299:
            assert totals() == sums_of_live_uses(), f"after step {step} ({action})"
    assert LimitUsage.objects.filter(released_at__isnull=True).exists()
    assert LimitUsage.objects.filter(released_at__isnull=False).exists()
    # What the limits route shows is what the uses add up to.
    for user in users:
        _, states = limits_for_user(user=user, now=now)
        shown = {s.name: s.used for s in states}
        live = LimitUsage.objects.filter(user=user, released_at__isnull=True, kind="withdrawal")
        in_day = [u for u in live if windows.day[0] <= u.at < windows.day[1]]
        in_hour = [u for u in live if windows.hour[0] <= u.at < windows.hour[1]]
        assert shown["withdrawal_daily"] == sum((u.amount_ugx for u in in_day), Decimal(0))
        assert shown["withdrawals_per_hour"] == len(in_hour)


def test_a_release_and_a_consume_of_one_user_in_parallel_never_deadlock():
    """One thread consumes (new uses, and again under references the other
    thread releases, sometimes as another kind); the other releases. Both
    touch the same totals rows; each thread has its own connection."""
    user = UserFactory()
    rounds, per_round = 4, 25
    errors: list[BaseException] = []
    released: list[bool] = []

    def consumer(r, barrier):
        try:
            barrier.wait()
            for i in range(per_round):
                for reference, kind in ((f"{r}:old:{i}", "withdrawal"), (f"{r}:new:{i}", "buy")):
                    with transaction.atomic():
                        limit_consume(
                            user=user,
                            kind=kind,
                            currency="UGX",
                            amount=Decimal(2000 + i),
                            reference=reference,
                            allow_over=True,
                        )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def releaser(r, barrier):
        try:
            barrier.wait()
            for i in range(per_round):
                released.append(limit_release(reference=f"{r}:old:{i}"))
                released.append(limit_release(reference=f"{r}:new:{max(i - 1, 0)}"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    for r in range(rounds):
        for i in range(per_round):
            with transaction.atomic():
                limit_consume(
                    user=user,
                    kind="buy",
                    currency="UGX",
                    amount=Decimal(1000),
                    reference=f"{r}:old:{i}",
                )
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=consumer, args=(r, barrier)),
            threading.Thread(target=releaser, args=(r, barrier)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads)
        assert errors == []
        assert totals() == sums_of_live_uses()
    # Every release of a recorded use took it out of the totals.
    assert released.count(True) >= rounds * per_round


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def test_the_migration_fills_the_totals_from_the_live_uses_and_goes_back():
    before, after = ("wallet", "0002_topups_tiers_limits"), ("wallet", "0003_limit_totals")
    users = [UserFactory(), UserFactory()]
    now = timezone.now()
    windows = _windows(now)
    try:
        _migrate(before)
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('wallet_limittotal')")
            assert cursor.fetchone() == (None,)
        ats = [
            now,
            windows.day[0] - timedelta(seconds=1),
            windows.month[0],
            now - timedelta(days=3),
        ]
        for n, (user, kind, at) in enumerate(
            (u, k, a) for u in users for k in ("buy", "withdrawal") for a in ats
        ):
            LimitUsage.objects.create(
                user=user,
                kind=kind,
                reference=f"before:{n}",
                currency="UGX",
                amount=Decimal(1000 + n),
                amount_ugx=Decimal(1000 + n),
                at=at,
                released_at=now if n % 5 == 0 else None,  # released ones do not count
            )
        _migrate(after)
        assert totals() == sums_of_live_uses()
        assert len(totals()) > len(users) * 2 * len(PERIODS)
        _migrate(before)
        _migrate(after)
        assert totals() == sums_of_live_uses()
    finally:
        _migrate(after)
