"""Timing of every Relworx request attempt (``dtx_relworx_request_seconds``),
as an httpx transport wrapped around the real one: it sees each attempt,
its status and its timeouts without the client's logic knowing."""

import time

import httpx

from dtexchange.metrics import RELWORX_REQUEST_SECONDS


def _endpoint(request: httpx.Request) -> str:
    # "/api/mobile-money/check-request-status" -> "mobile-money/check-request-status"
    path = request.url.path
    return path.split("/api/", 1)[-1].strip("/") or "/"


def _outcome(status_code: int) -> str:
    if status_code < 400:
        return "ok"
    return "server_error" if status_code >= 500 else "rejected"


class MeteredTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        outcome = "error"
        try:
            response = self.inner.handle_request(request)
            outcome = _outcome(response.status_code)
            return response
        except httpx.TimeoutException:
            outcome = "timeout"
            raise
        except httpx.TransportError:
            outcome = "unreachable"
            raise
        finally:
            RELWORX_REQUEST_SECONDS.labels(_endpoint(request), outcome).observe(
                time.perf_counter() - started
            )

    def close(self) -> None:
        self.inner.close()
