"""Liveness and readiness probes."""

import asyncio
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from dtexchange.client_ip import request_is_trusted


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)


def _check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def roundtrip():
        channel = await layer.new_channel("readyz.")
        await layer.send(channel, {"type": "readyz.ping"})
        # Bounded: on the Redis pub/sub layer a message published before the
        # subscription reached Redis is dropped, and a probe must never hang.
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
        if message.get("type") != "readyz.ping":
            raise RuntimeError("channel layer returned the wrong message")

    async_to_sync(roundtrip)()


CHECKS = {"database": _check_database, "cache": _check_cache, "channel_layer": _check_channel_layer}


def _may_see_details(request) -> bool:
    """Trusted networks (dtexchange.client_ip) and signed-in staff see which
    part failed; the public only ready / not ready."""
    if request_is_trusted(request):
        return True
    try:
        user = request.user
        return bool(user.is_authenticated and user.is_staff)
    except Exception:  # the session store may be what is down
        return False


def readyz(request):
    results, failed = {}, []
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # a probe reports any failure, whatever its kind
            results[name] = f"error: {type(exc).__name__}"
            failed.append(name)
    status = 503 if failed else 200
    body = {"status": "ok" if not failed else "unavailable"}
    if _may_see_details(request):
        body.update(checks=results, failed=failed)
    return JsonResponse(body, status=status)
