"""payments' hand-written SQL: PostgreSQL advisory locks on names, used only by
``payments.services.mobile_money``. The ORM has no word for them; no table is
read or written.

* ``PROMPTS_LOCK`` (``prompts_lock``): a transaction-scoped lock
  (``pg_advisory_xact_lock``) on one user's, or one phone number's, collection
  prompts. ``mobile_money_prompts_allow`` takes it inside the transaction that
  records the payment, so the count of recent prompts and the insert are
  serialized per user and per number: parallel requests cannot pass a limit
  together. It waits for a holder, and PostgreSQL releases it at commit or
  rollback.
* ``SENDING_LOCK_TRY`` / ``SENDING_LOCK_RELEASE`` (``sending_lock_try``,
  ``sending_lock_release``): a session-level lock (``pg_try_advisory_lock`` /
  ``pg_advisory_unlock``) on one payment, held by the worker that sends it to
  Relworx, across the HTTP calls, with no transaction open and no row locked.
  ``mobile_money_submit`` takes it without waiting: a Celery retry, the poller
  or the health check that comes meanwhile finds it taken and sends nothing.
  It is released by ``sending_lock_release``, or by PostgreSQL when the
  holder's connection ends (a crashed worker).

A lock's name is hashed to PostgreSQL's 64-bit key with
``hashtextextended(name, 0)``. The names are fixed here (``momo-prompts:…``,
``momo-send:<payment id>``): a name that changed would let an old and a new
worker hold "the same" lock at once while both run.
"""

from __future__ import annotations

from django.db import connection

PROMPTS_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
SENDING_LOCK_TRY = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
SENDING_LOCK_RELEASE = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"


def prompts_lock(*, scope: str, key: str) -> None:
    """Wait for, then hold until the transaction ends, the prompts lock of
    ``scope`` ("user": ``key`` is the user's pk; "number": the number's lookup
    hash). Call inside a transaction: in autocommit it is released at once."""
    with connection.cursor() as cursor:
        cursor.execute(PROMPTS_LOCK, [f"momo-prompts:{scope}:{key}"])


def sending_lock_try(*, payment_id: int) -> bool:
    """Take the sending lock of the payment for this connection's session, if
    nobody holds it; True when taken (this session may take it again: each
    take needs its own release)."""
    with connection.cursor() as cursor:
        cursor.execute(SENDING_LOCK_TRY, [f"momo-send:{payment_id}"])
        return bool(cursor.fetchone()[0])


def sending_lock_release(*, payment_id: int) -> bool:
    """Release this session's sending lock of the payment; False (and a
    PostgreSQL warning) when this session did not hold it."""
    with connection.cursor() as cursor:
        cursor.execute(SENDING_LOCK_RELEASE, [f"momo-send:{payment_id}"])
        return bool(cursor.fetchone()[0])
