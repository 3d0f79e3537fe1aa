"""payments/sql.py: the advisory locks really exclude a second connection.

Each holder runs in its own thread, so on its own PostgreSQL connection; a
waiter is seen waiting in ``pg_locks`` before the holder lets go.
"""

import threading
import time

import pytest
from django.db import connection, transaction

from payments import sql

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 10  # seconds: a bound, never a sleep


def _advisory_waiters() -> int:
    """Connections of this database waiting for an advisory lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return cursor.fetchone()[0]


def _until(check) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _thread(target) -> threading.Thread:
    errors = []

    def run():
        try:
            target()
        except Exception as exc:  # re-raised by the test through .errors
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.errors = errors
    thread.start()
    return thread


def _join(thread: threading.Thread) -> None:
    thread.join(WAIT)
    assert not thread.is_alive()
    if thread.errors:
        raise thread.errors[0]


class _Boom(Exception):
    pass


@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_the_prompts_lock_makes_a_second_connection_wait_until_the_holder_ends(ending):
    held, let_go, got = threading.Event(), threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                sql.prompts_lock(scope="number", key="a1b2")
                held.set()
                assert let_go.wait(WAIT)
                if ending == "rollback":
                    raise _Boom
        except _Boom:
            pass

    def waiter():
        with transaction.atomic():
            sql.prompts_lock(scope="number", key="a1b2")
            got.set()

    first = _thread(holder)
    assert held.wait(WAIT)
    second = _thread(waiter)
    _until(lambda: _advisory_waiters() == 1)
    assert not got.is_set()  # waiting, not refused and not through
    let_go.set()
    assert got.wait(WAIT)
    _join(first)
    _join(second)
    assert _advisory_waiters() == 0


def test_the_prompts_lock_of_another_user_or_number_does_not_wait():
    held, let_go = threading.Event(), threading.Event()

    def holder():
        with transaction.atomic():
            sql.prompts_lock(scope="user", key="7")
            held.set()
            assert let_go.wait(WAIT)

    first = _thread(holder)
    assert held.wait(WAIT)
    try:
        # Same key, other scope; same scope, other key: both pass at once.
        with transaction.atomic():
            sql.prompts_lock(scope="number", key="7")
            sql.prompts_lock(scope="user", key="8")
        assert first.is_alive()  # the holder still holds
    finally:
        let_go.set()
        _join(first)


def test_the_sending_lock_is_refused_to_a_second_connection_until_released():
    taken, let_go, released = threading.Event(), threading.Event(), threading.Event()
    results = []

    def sender():
        results.append(sql.sending_lock_try(payment_id=41))
        # Held across the sender's own transactions (it writes between calls).
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        taken.set()
        assert let_go.wait(WAIT)
        results.append(sql.sending_lock_release(payment_id=41))
        released.set()

    first = _thread(sender)
    assert taken.wait(WAIT)
    try:
        assert sql.sending_lock_try(payment_id=41) is False  # taken elsewhere: no wait
        assert _advisory_waiters() == 0
        assert sql.sending_lock_release(payment_id=41) is False  # not ours to release
        assert sql.sending_lock_try(payment_id=42) is True  # another payment's is free
        assert sql.sending_lock_release(payment_id=42) is True
    finally:
        let_go.set()
        _join(first)
    assert results == [True, True]
    assert sql.sending_lock_try(payment_id=41) is True
    assert sql.sending_lock_release(payment_id=41) is True


def test_the_sending_lock_ends_with_its_holders_connection():
    def crashed_sender():
        assert sql.sending_lock_try(payment_id=43)
        # no release: the thread's connection closes (a worker that died)

    _join(_thread(crashed_sender))
    # PostgreSQL frees the lock once it has seen the connection go.
    _until(lambda: sql.sending_lock_try(payment_id=43))
    assert sql.sending_lock_release(payment_id=43) is True
