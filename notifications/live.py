"""Live delivery inside the Daphne process, for the embedded default.

With the in-memory channel layer the Celery worker cannot reach the sockets
(another process). So the web process drains live deliveries itself: a
background task on Daphne's event loop, started by the first socket, polls the
outbox (and is woken at once by commits made in this process) and publishes
on this process's in-memory layer. Emails are still sent by the worker.

In production (Redis channel layer) the worker publishes and this is unused.
"""

import asyncio
import contextlib
import logging

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from notifications import dispatch

logger = logging.getLogger(__name__)

_drainer: asyncio.Task | None = None
_wakeup: asyncio.Event | None = None
_loop: asyncio.AbstractEventLoop | None = None


def ensure_drainer() -> None:
    """Start the drainer on the running loop once (called on socket connect)."""
    global _drainer, _wakeup, _loop
    if not dispatch.live_drain_in_web():
        return
    loop = asyncio.get_running_loop()
    if _drainer is not None and not _drainer.done() and _loop is loop:
        return
    _loop, _wakeup = loop, asyncio.Event()
    _drainer = loop.create_task(_drain_forever(_wakeup), name="outbox-live-drainer")


def wake() -> None:
    """Called after a commit in this process: look at the outbox now."""
    loop, event = _loop, _wakeup
    if loop is None or event is None or loop.is_closed():
        return
    # RuntimeError: the loop closed between the check and the call.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(event.set)


async def drain_once() -> int:
    if not await database_sync_to_async(dispatch.live_pending_exists)():
        return 0
    messages = await database_sync_to_async(dispatch.outbox_claim_live_in_process)()
    layer = get_channel_layer()
    for group, message in messages:
        await layer.group_send(group, message)
    return len(messages)


async def _drain_forever(wakeup: asyncio.Event) -> None:
    interval = settings.OUTBOX_LIVE_POLL_SECONDS
    while True:
        try:
            if await drain_once():
                continue  # more may be waiting
        except asyncio.CancelledError:
            raise
        except Exception:  # database busy or gone: try again on the next tick
            logger.warning("live outbox drain failed; retrying", exc_info=True)
        wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=interval)
