"""The wallet's hand-written SQL, used only by ``wallet.limits``: the limit
check of every buy, withdrawal and top-up, in one round trip.

* ``PROFILE_LOCK``: the user's ``WalletProfile`` row FOR UPDATE (the limit
  lock) and the tier staff granted.
* ``USED``: per kind, what counts in the month, the day and the hour.
* ``USE_RECORD``: record (or replace) one use under its reference.

``lock_and_used`` sends the lock and the sums together in a psycopg
pipeline. The server runs them in order and, under READ COMMITTED, the sums
take their snapshot when they start, after the lock is held: a parallel
request's use committed while this one waited is counted.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from wallet.models import LimitUsage, WalletProfile

_PROFILE = WalletProfile._meta.db_table
_USAGE = LimitUsage._meta.db_table

PROFILE_LOCK = f"SELECT granted_tier FROM {_PROFILE} WHERE user_id = %s FOR UPDATE"  # noqa: S608

USED = (
    "SELECT kind, "  # noqa: S608 (our table; every value is a parameter)
    "COALESCE(SUM(amount_ugx) FILTER (WHERE at >= %(day_start)s AND at < %(day_end)s), 0), "
    "COALESCE(SUM(amount_ugx), 0), "
    "COUNT(*) FILTER (WHERE at >= %(hour_start)s AND at < %(hour_end)s) "
    f"FROM {_USAGE} "
    "WHERE user_id = %(user_id)s AND kind = ANY(%(kinds)s) AND released_at IS NULL "
    "AND at >= %(month_start)s AND at < %(month_end)s AND reference <> %(excluding)s "
    "GROUP BY kind"
)

USE_RECORD = (
    f"INSERT INTO {_USAGE} "  # noqa: S608 (our table; every value is a parameter)
    "(user_id, kind, reference, currency, amount, amount_ugx, at, released_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, NULL) "
    "ON CONFLICT (reference) DO UPDATE SET kind = EXCLUDED.kind, currency = EXCLUDED.currency, "
    "amount = EXCLUDED.amount, amount_ugx = EXCLUDED.amount_ugx, at = EXCLUDED.at, "
    "released_at = NULL"
)


@dataclass(frozen=True)
class Windows:
    """The periods that count at one moment: [start, end) of each."""

    month: tuple[datetime.datetime, datetime.datetime]
    day: tuple[datetime.datetime, datetime.datetime]
    hour: tuple[datetime.datetime, datetime.datetime]


@dataclass(frozen=True)
class Used:
    """What one kind has used: UGX in the day and the month, uses in the hour."""

    day: Decimal
    month: Decimal
    hour: int


NOTHING_USED = Used(Decimal(0), Decimal(0), 0)


def _used_params(*, user_id: int, kinds: list[str], windows: Windows, excluding: str) -> dict:
    return {
        "user_id": user_id,
        "kinds": kinds,
        "month_start": windows.month[0],
        "month_end": windows.month[1],
        "day_start": windows.day[0],
        "day_end": windows.day[1],
        "hour_start": windows.hour[0],
        "hour_end": windows.hour[1],
        "excluding": excluding,
    }


def _used_rows(rows) -> dict[str, Used]:
    return {kind: Used(day, month, hour) for kind, day, month, hour in rows}


def used(*, user_id: int, kinds: list[str], windows: Windows, excluding: str = "") -> dict:
    """``{kind: Used}`` of the kinds that have any use in the month (reads only)."""
    with connection.cursor() as cursor:
        cursor.execute(
            USED, _used_params(user_id=user_id, kinds=kinds, windows=windows, excluding=excluding)
        )
        return _used_rows(cursor.fetchall())


def lock_and_used(
    *, user_id: int, kinds: list[str], windows: Windows, excluding: str
) -> tuple[int | None, dict[str, Used]]:
    """Lock the user's profile row and read what ``kinds`` used, in one round
    trip: (the granted tier, or None when the user has no profile row yet —
    then nothing is locked and the sums must be read again after creating it;
    ``{kind: Used}``)."""
    params = _used_params(user_id=user_id, kinds=kinds, windows=windows, excluding=excluding)
    with connection.cursor() as lock, connection.cursor() as sums:
        # Errors surface when the pipeline syncs: as Django's own exceptions.
        with connection.wrap_database_errors, connection.connection.pipeline():
            lock.execute(PROFILE_LOCK, [user_id])
            sums.execute(USED, params)
        row = lock.fetchone()
        return (row[0] if row else None), _used_rows(sums.fetchall())


def use_record(
    *,
    user_id: int,
    kind: str,
    reference: str,
    currency: str,
    amount: Decimal,
    amount_ugx: Decimal,
    at: datetime.datetime,
) -> None:
    """Record the use under ``reference``, or replace the use recorded there
    (and revive it if it was released)."""
    with connection.cursor() as cursor:
        cursor.execute(USE_RECORD, [user_id, kind, reference, currency, amount, amount_ugx, at])
