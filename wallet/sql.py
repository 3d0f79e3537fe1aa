"""The wallet's hand-written SQL, used only by ``wallet.limits``: the limit
check of every buy, withdrawal and top-up, in one round trip, and keeping
the running totals it reads (``LimitTotal``) equal to the live uses
(``LimitUsage``).

* ``PROFILE_LOCK``: the user's ``WalletProfile`` row FOR UPDATE (the limit
  lock) and the tier staff granted.
* ``TOTALS``: per kind, the running totals of the day, the hour and the
  month that count at one moment (one row each, by their unique key: the
  cost does not grow with the uses).
* ``USE_LOCK``: the live use already recorded under the reference being
  consumed, FOR UPDATE. Consuming again replaces it, so the check leaves
  its contribution out, and recording takes it out of the totals.
* ``USE_RECORD``: record (or replace) one use under its reference and, in
  the same statement, add it to its periods' totals and take the use it
  replaced out of theirs.
* ``USE_RELEASE``: give a use back and take it out of its periods' totals,
  in one statement.

``lock_and_used`` sends the lock, the totals and the use lock together in a
psycopg pipeline. The server runs them in order and, under READ COMMITTED,
the totals take their snapshot when they start, after the lock is held: a
parallel request's use committed while this one waited is counted.

A period's total is keyed by its start, ``date_trunc(period, at, TIME_ZONE)``:
the East Africa Time day, hour or month, the same starts as
``wallet.limits._window`` cuts. Recording and releasing touch totals rows
through one ``INSERT ... SELECT ... ORDER BY ... ON CONFLICT DO UPDATE``
(``_TOTALS_ADD``), so both lock them in one order (user, kind, period,
start) and a release never deadlocks with a consume of the same user (a
release takes no profile lock). Both lock the use row first, so a release
and a re-consume of the same reference pass one after the other and each
sees what the other wrote.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from wallet.models import LimitTotal, LimitUsage, WalletProfile

# Uganda's zone: East Africa Time, no daylight saving.
TIME_ZONE = "Africa/Kampala"

_PROFILE = WalletProfile._meta.db_table
_USAGE = LimitUsage._meta.db_table
_TOTAL = LimitTotal._meta.db_table
_PERIODS = "(VALUES ('day'), ('hour'), ('month')) AS p (period)"

PROFILE_LOCK = f"SELECT granted_tier FROM {_PROFILE} WHERE user_id = %s FOR UPDATE"  # noqa: S608

TOTALS = (
    "SELECT kind, period, amount_ugx, uses "  # noqa: S608 (our table; every value is a parameter)
    f"FROM {_TOTAL} "
    "WHERE user_id = %(user_id)s AND kind = ANY(%(kinds)s) AND ("
    "(period = 'day' AND starts_at = %(day_start)s) "
    "OR (period = 'hour' AND starts_at = %(hour_start)s) "
    "OR (period = 'month' AND starts_at = %(month_start)s))"
)

USE_LOCK = (
    "SELECT user_id, kind, amount_ugx, "  # noqa: S608 (our table; every value is a parameter)
    f"date_trunc('day', at, '{TIME_ZONE}'), date_trunc('hour', at, '{TIME_ZONE}'), "
    f"date_trunc('month', at, '{TIME_ZONE}'), at "
    f"FROM {_USAGE} WHERE reference = %(reference)s AND released_at IS NULL FOR UPDATE"
)

# Adds the rows of ``deltas`` (user_id, kind, period, starts_at, amount_ugx,
# uses) to the totals: one row per total (GROUP BY, as ON CONFLICT may touch
# a row once per statement), in the one lock order (ORDER BY).
_TOTALS_ADD = (
    f"INSERT INTO {_TOTAL} AS t (user_id, kind, period, starts_at, amount_ugx, uses) "  # noqa: S608
    "SELECT user_id, kind, period, starts_at, SUM(amount_ugx), SUM(uses) FROM deltas "
    "GROUP BY user_id, kind, period, starts_at ORDER BY user_id, kind, period, starts_at "
    "ON CONFLICT (user_id, kind, period, starts_at) DO UPDATE SET "
    "amount_ugx = t.amount_ugx + EXCLUDED.amount_ugx, uses = t.uses + EXCLUDED.uses"
)

USE_RECORD = (
    "WITH recorded AS ("  # noqa: S608 (our tables; every value is a parameter)
    f"INSERT INTO {_USAGE} "
    "(user_id, kind, reference, currency, amount, amount_ugx, at, released_at) "
    "VALUES (%(user_id)s, %(kind)s, %(reference)s, %(currency)s, %(amount)s, %(amount_ugx)s, "
    "%(at)s, NULL) "
    "ON CONFLICT (reference) DO UPDATE SET kind = EXCLUDED.kind, currency = EXCLUDED.currency, "
    "amount = EXCLUDED.amount, amount_ugx = EXCLUDED.amount_ugx, at = EXCLUDED.at, "
    "released_at = NULL "
    "RETURNING user_id, kind, amount_ugx, at"
    "), replaced AS ("
    "SELECT %(old_user_id)s::bigint AS user_id, %(old_kind)s::varchar AS kind, "
    "%(old_amount_ugx)s::numeric AS amount_ugx, %(old_at)s::timestamptz AS at"
    "), deltas AS ("
    f"SELECT r.user_id, r.kind, p.period, date_trunc(p.period, r.at, '{TIME_ZONE}') AS starts_at, "
    f"r.amount_ugx, 1 AS uses FROM recorded r CROSS JOIN {_PERIODS} "
    "UNION ALL "
    f"SELECT r.user_id, r.kind, p.period, date_trunc(p.period, r.at, '{TIME_ZONE}'), "
    f"-r.amount_ugx, -1 FROM replaced r CROSS JOIN {_PERIODS} WHERE r.kind IS NOT NULL"
    ") " + _TOTALS_ADD
)

USE_RELEASE = (
    "WITH released AS ("  # noqa: S608 (our tables; every value is a parameter)
    f"UPDATE {_USAGE} SET released_at = %(now)s "
    "WHERE reference = %(reference)s AND released_at IS NULL "
    "RETURNING user_id, kind, amount_ugx, at"
    "), deltas AS ("
    f"SELECT r.user_id, r.kind, p.period, date_trunc(p.period, r.at, '{TIME_ZONE}') AS starts_at, "
    f"-r.amount_ugx AS amount_ugx, -1 AS uses FROM released r CROSS JOIN {_PERIODS}"
    ") " + _TOTALS_ADD
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


@dataclass(frozen=True)
class LiveUse:
    """The live use recorded under a reference, and the starts of its periods."""

    user_id: int
    kind: str
    amount_ugx: Decimal
    day_start: datetime.datetime
    hour_start: datetime.datetime
    month_start: datetime.datetime
    at: datetime.datetime


def _totals_params(*, user_id: int, kinds: list[str], windows: Windows) -> dict:
    return {
        "user_id": user_id,
        "kinds": kinds,
        "day_start": windows.day[0],
        "hour_start": windows.hour[0],
        "month_start": windows.month[0],
    }


def _used_rows(rows, *, windows: Windows, leaving_out: LiveUse | None = None) -> dict:
    """``{kind: Used}`` from TOTALS rows, without the contribution of
    ``leaving_out`` (of this user) in the periods it counts in."""
    totals: dict[str, dict[str, tuple[Decimal, int]]] = {}
    for kind, period, amount_ugx, uses in rows:
        totals.setdefault(kind, {})[period] = (amount_ugx, uses)
    if leaving_out is not None and leaving_out.kind in totals:
        periods = totals[leaving_out.kind]
        starts = {
            "day": (leaving_out.day_start, windows.day[0]),
            "hour": (leaving_out.hour_start, windows.hour[0]),
            "month": (leaving_out.month_start, windows.month[0]),
        }
        for period, (its_start, current) in starts.items():
            if period in periods and its_start == current:
                amount_ugx, uses = periods[period]
                periods[period] = (amount_ugx - leaving_out.amount_ugx, uses - 1)
    return {
        kind: Used(
            periods.get("day", (Decimal(0), 0))[0],
            periods.get("month", (Decimal(0), 0))[0],
            periods.get("hour", (Decimal(0), 0))[1],
        )
        for kind, periods in totals.items()
    }


def used(*, user_id: int, kinds: list[str], windows: Windows) -> dict[str, Used]:
    """``{kind: Used}`` of the kinds that have a total in one of the periods (reads only)."""
    with connection.cursor() as cursor:
        cursor.execute(TOTALS, _totals_params(user_id=user_id, kinds=kinds, windows=windows))
        return _used_rows(cursor.fetchall(), windows=windows)


def lock_and_used(
    *, user_id: int, kinds: list[str], windows: Windows, reference: str
) -> tuple[int | None, dict[str, Used], LiveUse | None]:
    """Lock the user's profile row, read what ``kinds`` used and lock the live
    use under ``reference``, in one round trip: (the granted tier, or None
    when the user has no profile row yet — then the profile is not locked
    and this must run again after creating it; ``{kind: Used}`` without the
    use under ``reference``, which consuming again replaces; that use, for
    ``use_record``, or None)."""
    params = _totals_params(user_id=user_id, kinds=kinds, windows=windows)
    with connection.cursor() as lock, connection.cursor() as totals, connection.cursor() as use:
        # Errors surface when the pipeline syncs: as Django's own exceptions.
        with connection.wrap_database_errors, connection.connection.pipeline():
            lock.execute(PROFILE_LOCK, [user_id])
            totals.execute(TOTALS, params)
            use.execute(USE_LOCK, {"reference": reference})
        row = lock.fetchone()
        live = use.fetchone()
        live = LiveUse(*live) if live else None
        mine = live if live is not None and live.user_id == user_id else None
        return (
            (row[0] if row else None),
            _used_rows(totals.fetchall(), windows=windows, leaving_out=mine),
            live,
        )


def use_record(
    *,
    user_id: int,
    kind: str,
    reference: str,
    currency: str,
    amount: Decimal,
    amount_ugx: Decimal,
    at: datetime.datetime,
    replacing: LiveUse | None,
) -> None:
    """Record the use under ``reference``, or replace the use recorded there
    (and revive it if it was released), and move the totals with it.
    ``replacing`` is the live use under ``reference`` as ``lock_and_used``
    locked it (None when there was none), in the same transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            USE_RECORD,
            {
                "user_id": user_id,
                "kind": kind,
                "reference": reference,
                "currency": currency,
                "amount": amount,
                "amount_ugx": amount_ugx,
                "at": at,
                "old_user_id": replacing.user_id if replacing else None,
                "old_kind": replacing.kind if replacing else None,
                "old_amount_ugx": replacing.amount_ugx if replacing else None,
                "old_at": replacing.at if replacing else None,
            },
        )


def use_release(*, reference: str, now: datetime.datetime) -> bool:
    """Release the live use under ``reference`` and take it out of its
    periods' totals; True when there was one."""
    with connection.cursor() as cursor:
        cursor.execute(USE_RELEASE, {"reference": reference, "now": now})
        return cursor.rowcount > 0
