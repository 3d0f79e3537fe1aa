"""Whether the current request has committed any write to the database.

An error answer may promise "nothing was charged" only when that is true: a
request whose transaction committed and then failed (the broker down when an
on-commit task is queued, Redis gone before the answer is built) may have
moved money. The API's middleware watches each request with Django's public
``connection.execute_wrapper``: a write run outside a transaction has
committed at once; a write inside one registers ``transaction.on_commit``,
which runs only if that transaction commits (and, registered at the first
write, before the callbacks the transaction's own code adds, so one of them
failing does not hide the commit).
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial

from django.db import connections, transaction

# Conservative: a WITH may be a read, but treating it as a write only makes
# the answer more careful.
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|MERGE|COPY|TRUNCATE|WITH)\b", re.IGNORECASE)


class _Watch:
    __slots__ = ("committed",)

    def __init__(self) -> None:
        self.committed = False


_current: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar(
    "dtx_commit_watch", default=None
)


def _mark(watch: _Watch) -> None:
    watch.committed = True


def _wrapper(watch: _Watch, execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if not watch.committed and isinstance(sql, str) and _WRITE.match(sql):
        connection = context["connection"]
        if connection.in_atomic_block:
            transaction.on_commit(partial(_mark, watch), using=connection.alias)
        elif connection.get_autocommit():
            watch.committed = True
    return result


@contextmanager
def commit_watch() -> Iterator[None]:
    """Watch every database connection of this thread for committed writes
    until the block ends (request_committed() tells)."""
    watch = _Watch()
    token = _current.set(watch)
    try:
        with ExitStack() as stack:
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(partial(_wrapper, watch)))
            yield
    finally:
        _current.reset(token)


def request_committed() -> bool | None:
    """True when a write committed in the watched block, False when none
    did, None when nothing is watching (not known)."""
    watch = _current.get()
    return None if watch is None else watch.committed
