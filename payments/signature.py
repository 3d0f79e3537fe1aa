"""Relworx webhook signatures, shared by our webhook and the sandbox.

``Relworx-Signature: t=<unix seconds>,v=<signature>`` where the signature is
HMAC-SHA256(webhook key, registered webhook URL + t + the signed fields sorted
by name, each as name + value). Relworx sends it in hex; base64 of the same
digest is accepted too. Pure Python (no Django) so the sandbox can use it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

SIGNED_FIELDS = ("customer_reference", "internal_reference", "status")
MAX_AGE_SECONDS = 300


class SignatureError(Exception):
    """The webhook is unsigned, badly signed or stale. ``reason`` is for logs."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def _message(url: str, timestamp: str, fields: dict) -> bytes:
    parts = [url, timestamp]
    for name in sorted(SIGNED_FIELDS):
        value = fields.get(name)
        parts.append(f"{name}{'' if value is None else value}")
    return "".join(parts).encode()


def signature_digest(*, key: str, url: str, timestamp: str, fields: dict) -> bytes:
    return hmac.new(key.encode(), _message(url, timestamp, fields), hashlib.sha256).digest()


def signature_header(
    *, key: str, url: str, fields: dict, timestamp: int | None = None, encoding: str = "hex"
) -> str:
    t = str(int(time.time()) if timestamp is None else timestamp)
    digest = signature_digest(key=key, url=url, timestamp=t, fields=fields)
    sig = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    return f"t={t},v={sig}"


def _parse(header: str) -> tuple[str, str]:
    parts: dict[str, str] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            # base64 may end in "=": partition keeps everything after the first one.
            parts.setdefault(name.strip(), value.strip())
    t, v = parts.get("t", ""), parts.get("v", "")
    if not t or not v:
        raise SignatureError("malformed_header")
    if not t.isdigit():
        raise SignatureError("malformed_timestamp")
    return t, v


def _decode(sig: str) -> bytes | None:
    if len(sig) == 64:
        try:
            return bytes.fromhex(sig)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == hashlib.sha256().digest_size else None


def signature_verify(
    *,
    header: str | None,
    key: str,
    url: str,
    fields: dict,
    now: float | None = None,
    max_age: int = MAX_AGE_SECONDS,
    max_past: int | None = None,
) -> int:
    """Return the signed timestamp, or raise SignatureError.

    The signature is checked first, then the time: more than ``max_age``
    seconds in the future is refused, and so is more than ``max_past``
    seconds in the past (default ``max_age``; a receiver that only acts on a
    webhook through a status check can take Relworx's late retries, which may
    keep the first attempt's time).
    """
    if not header:
        raise SignatureError("missing_signature")
    if not key:
        raise SignatureError("no_webhook_key_configured")
    t, v = _parse(header)
    given = _decode(v)
    expected = signature_digest(key=key, url=url, timestamp=t, fields=fields)
    # compare_digest on equal-length bytes; a wrong-length or undecodable value
    # is compared against a dummy so the timing does not reveal which it was.
    if not hmac.compare_digest(given or b"\0" * len(expected), expected) or given is None:
        raise SignatureError("bad_signature")
    now = time.time() if now is None else now
    age = now - int(t)
    if age < -max_age or age > (max_age if max_past is None else max_past):
        raise SignatureError("stale_timestamp")
    return int(t)
