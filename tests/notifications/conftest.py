"""Helpers for the outbox / WebSocket / email tests.

Async scenarios run under ``async_to_sync`` from a sync test, so the ORM calls
made through ``sync_to_async``/``database_sync_to_async`` come back to the
test's own thread and database connection."""

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken


def run(coro_fn, *args, **kwargs):
    return async_to_sync(coro_fn)(*args, **kwargs)


@pytest.fixture
def make_user(db):
    counter = {"n": 0}

    def make(email: str | None = None, **extra):
        counter["n"] += 1
        return get_user_model().objects.create_user(
            email or f"user{counter['n']}@example.com", "correct-horse-9", **extra
        )

    return make


def access_token(user, *, lifetime: timedelta | None = None) -> str:
    token = AccessToken.for_user(user)
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


def trade_payload(**overrides) -> dict:
    payload = {
        "trade_id": "6f1c2f4e-1a7e-4d8e-9a57-9a3f6e1b2c3d",
        "status": "completed",
        "previous_status": "pending",
        "trade_type": "buy",
        "crypto_currency": "BTC",
        "fiat_currency": "UGX",
        "crypto_amount": "0.001250000000000000",
        "fiat_amount": "500000.000000000000000000",
        "fee_amount": "12500.000000000000000000",
        "fee_rate": "0.025000000000000000",
        "exchange_rate": "390000000.000000000000000000",
        "payment_method": "mobile_money",
        "reference": "DTX-7Q4K9M",
        "reason": "",
        "created_at": "2026-11-25T10:00:00+00:00",
        "updated_at": "2026-11-25T10:02:30+00:00",
    }
    payload.update(overrides)
    return payload


async def receive_until(receive, predicate, *, timeout: float = 5.0):
    """Receive JSON messages until one satisfies ``predicate``; return it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TimeoutError("no matching message")
        message = await asyncio.wait_for(receive(), timeout=remaining)
        if isinstance(message, str | bytes):
            message = json.loads(message)
        if predicate(message):
            return message


class GroupListener:
    """Collects a channel-layer group's messages in the background. (A receive
    cancelled by a timeout would drop the pub/sub layer's channel, so one
    long-lived receive loop feeds a queue instead.)"""

    def __init__(self, group: str):
        self.group = group
        self.queue: asyncio.Queue = asyncio.Queue()

    async def __aenter__(self):
        from channels.layers import get_channel_layer

        self.layer = get_channel_layer()
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self.task = asyncio.create_task(self._pump())
        return self

    async def _pump(self):
        while True:
            self.queue.put_nowait(await self.layer.receive(self.channel))

    async def get(self, timeout: float = 5.0):
        return await asyncio.wait_for(self.queue.get(), timeout=timeout)

    async def assert_silent(self, timeout: float = 0.5):
        try:
            message = await asyncio.wait_for(self.queue.get(), timeout=timeout)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message {message!r}")

    async def __aexit__(self, *exc):
        self.task.cancel()
        await self.layer.group_discard(self.group, self.channel)
