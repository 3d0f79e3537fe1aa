"""The audit trail's chain on PostgreSQL: appends, the database refusing
edits, audit_verify naming the first broken link of a chain tampered with
behind the triggers, and parallel appends making one linear chain."""

import io
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest
import structlog
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.models import GENESIS_HASH, AuditEvent
from audit.selectors import audit_chain_head, audit_chain_verify
from audit.services import audit_record
from dtexchange.logging import configure_logging
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _record(n: int, **extra) -> list[AuditEvent]:
    return [
        audit_record(action="test.thing", actor_label="tests", object_id=i, **extra)
        for i in range(n)
    ]


def _behind_the_triggers(sql: str, params=()):
    """What someone with the table owner's rights could do: switch the
    append-only trigger off, edit, switch it back on."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


def _verify_exit(*args: str) -> subprocess.CompletedProcess:
    """manage.py audit_verify in its own process, on the test database."""
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "audit_verify", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_events_chain_each_to_the_one_before():
    staff = UserFactory(is_staff=True)
    customer = UserFactory()
    structlog.contextvars.bind_contextvars(request_id="req-audit-1")
    try:
        first = audit_record(
            action="deposit.approve",
            actor=staff,
            object_type="payments.bankdeposit",
            object_id=7,
            subject=customer,
            before={"status": "pending"},
            after={"status": "approved", "amount": Decimal("250000")},
            data={"note": "statement line 4"},
            ip="10.0.0.5",
        )
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    second = audit_record(action="reserve.fund", actor_label="command:fund_reserve")

    first.refresh_from_db()
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    assert first.request_id == "req-audit-1" and second.request_id == ""
    assert first.after == {"status": "approved", "amount": "250000"}
    assert (first.actor, first.subject, first.object_id) == (staff, customer, "7")
    assert audit_chain_head() == (2, second.hash)
    report = audit_chain_verify()
    assert report.ok and (report.count, report.head_seq, report.head_hash) == (2, 2, second.hash)


def test_an_event_needs_an_actor_and_an_action():
    with pytest.raises(ValueError, match="actor"):
        audit_record(action="x.y")
    with pytest.raises(ValueError, match="action"):
        audit_record(action="", actor_label="tests")
    assert not AuditEvent.objects.exists()


def test_an_event_rolls_back_with_the_action_it_records():
    kept = audit_record(action="test.kept", actor_label="tests")
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(action="test.rolled_back", actor_label="tests")
        raise RuntimeError("the action failed")
    after = audit_record(action="test.after", actor_label="tests")
    assert after.seq == 2 and after.prev_hash == kept.hash
    assert audit_chain_verify().ok


def test_the_database_refuses_update_and_delete():
    (event,) = _record(1)
    for sql in (
        "UPDATE audit_auditevent SET action = 'edited' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            connection.cursor().execute(sql, [event.pk])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="edited")
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    event.refresh_from_db()
    assert event.action == "test.thing"


def test_audit_verify_names_an_edited_row_and_exits_non_zero():
    events = _record(5)
    assert _verify_exit().returncode == 0
    _behind_the_triggers(
        'UPDATE audit_auditevent SET data = \'{"amount": "1"}\' WHERE id = %s', [events[2].pk]
    )
    with pytest.raises(CommandError, match=r"broken at event #3: .*was altered"):
        call_command("audit_verify")
    done = _verify_exit()
    assert done.returncode == 1
    assert f"event #3 (id {events[2].pk}, test.thing) was altered" in done.stderr


def test_a_rehashed_edit_still_breaks_the_next_link():
    events = _record(4)
    from audit.hashing import stored_hash

    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.actor_label = "someone else"
    _behind_the_triggers(
        "UPDATE audit_auditevent SET actor_label = %s, hash = %s WHERE id = %s",
        [forged.actor_label, stored_hash(forged), forged.pk],
    )
    with pytest.raises(CommandError, match=r"broken at event #3: .*does not link"):
        call_command("audit_verify")


def test_a_deleted_row_is_named():
    events = _record(4)
    _behind_the_triggers("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    with pytest.raises(CommandError, match=r"broken at event #2: event #2 is missing"):
        call_command("audit_verify")


def test_events_cut_off_the_end_are_caught_by_the_head_and_by_a_recorded_head():
    events = _record(4)
    _behind_the_triggers("DELETE FROM audit_auditevent WHERE seq >= 3")
    with pytest.raises(CommandError, match="the chain head names #4"):
        call_command("audit_verify")
    # Someone who also rewinds the head row is still caught by a head
    # recorded outside the database (a backup manifest, a log line).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditchainhead SET seq = 2, hash = %s WHERE id = 1", [events[1].hash]
        )
    call_command("audit_verify")  # consistent inside the database...
    with pytest.raises(CommandError, match="#4 was recorded but is no longer in the chain"):
        call_command("audit_verify", expect=f"4:{events[3].hash}")
    call_command("audit_verify", expect=f"2:{events[1].hash}")
    with pytest.raises(CommandError, match=r"but .* was recorded for it"):
        call_command("audit_verify", expect=f"2:{events[0].hash}")


@pytest.fixture
def json_log_lines():
    configure_logging(level="INFO", json=True)
    root = logging.getLogger()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    root.removeHandler(handler)
    configure_logging(level="WARNING", json=False)  # as tests.settings has it


def test_the_head_is_logged_after_commit_and_by_audit_verify(json_log_lines):
    with transaction.atomic():
        event = audit_record(action="test.logged", actor_label="tests")
        assert not [x for x in json_log_lines() if x["event"] == "audit.appended"]
    (appended,) = [x for x in json_log_lines() if x["event"] == "audit.appended"]
    assert (appended["seq"], appended["hash"]) == (1, event.hash)
    call_command("audit_verify", stdout=io.StringIO())
    (verified,) = [x for x in json_log_lines() if x["event"] == "audit.verified"]
    assert (verified["seq"], verified["hash"], verified["events"]) == (1, event.hash, 1)


def test_parallel_appends_make_one_linear_chain():
    """Ten threads, each with its own connection, append while holding their
    transaction open a little: they queue on the head row, none forks."""
    n = 10
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def work(i: int):
        try:
            start.wait()
            with transaction.atomic():
                audit_record(action="test.parallel", actor_label=f"thread:{i}")
                time.sleep(0.02)  # the rest of the staff action's transaction
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, n + 1))
    assert {e.actor_label for e in events} == {f"thread:{i}" for i in range(n)}
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert all(a.created_at <= b.created_at for a, b in itertools.pairwise(events))
    assert audit_chain_verify().ok
