"""Command-line options of the servers we start, shared by `make run`
(scripts/run_all.py), the tests' real servers and the production commands in
the README, so all of them enforce the same limits. Read from the environment
only (no Django settings import: the process list is built before Django).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DEFAULT_WS_MAX_MESSAGE_BYTES = 4096


def ws_max_message_bytes(environ: Mapping[str, str] = os.environ) -> int:
    """WS_MAX_MESSAGE_BYTES: the largest WebSocket message (and frame) a
    client may send; the settings read the same variable."""
    return int(environ.get("WS_MAX_MESSAGE_BYTES") or DEFAULT_WS_MAX_MESSAGE_BYTES)


def daphne_options(environ: Mapping[str, str] = os.environ) -> list[str]:
    """Daphne's options: frames and messages above the limit are refused by
    Daphne's WebSocket protocol (close 1009) before they are buffered; behind
    NUM_PROXIES proxies Daphne reads X-Forwarded-For / -Proto too."""
    size = str(ws_max_message_bytes(environ))
    options = ["--websocket-max-message-size", size, "--websocket-max-frame-size", size]
    if int(environ.get("NUM_PROXIES") or 0) > 0:
        options.append("--proxy-headers")
    return options
