"""Voucher codes: generation, normalisation, keyed hashing.

A code is 20 symbols drawn by ``secrets`` from a 31-symbol alphabet with no
ambiguous characters (no 0/O, 1/I/L), i.e. 20 * log2(31) ≈ 99 bits, shown
grouped for reading: ``DTX-XXXX-XXXX-XXXX-XXXX-XXXX``. Only an HMAC-SHA256 of
the normalised body (keyed with ``settings.VOUCHER_HASH_KEY``) and the last four
symbols are stored; the plain code exists only in the creator's response.

Pure functions: no database access here.
"""

import hashlib
import hmac
import re
import secrets

from django.conf import settings

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BODY_LENGTH = 20
GROUP = 4
PREFIX = "DTX"
SUFFIX_LENGTH = 4

# What people put between groups when they copy or type a code.
_SEPARATORS = re.compile(r"[ \t\r\n\-_.]+")
# What normalise accepts, as a JSON Schema pattern (the API schema publishes it).
CODE_PATTERN = (
    r"^[ \t\r\n._-]*([Dd][ \t\r\n._-]*[Tt][ \t\r\n._-]*[Xx][ \t\r\n._-]*)?"
    r"([2-9A-HJKMNP-Za-hjkmnp-z][ \t\r\n._-]*){20}$"
)


class MalformedCode(ValueError):
    """The input cannot be a voucher code (wrong length or characters)."""


def generate_body() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))


def format_code(body: str) -> str:
    groups = [body[i : i + GROUP] for i in range(0, len(body), GROUP)]
    return "-".join([PREFIX, *groups])


def normalise(raw: str) -> str:
    """Return the 20-symbol body of ``raw`` or raise MalformedCode.

    Case, spaces, dashes (and dots/underscores) are ignored; the ``DTX`` prefix
    is optional. Nothing is "corrected": 0/O/1/I/L are not in the alphabet, so
    guessing which symbol was meant could turn a typo into someone else's code.
    """
    if not isinstance(raw, str):
        raise MalformedCode("A voucher code is text.")
    # ASCII only: str.upper() would turn some other letters into ours (the long s, U+017F, -> "S").
    compact = _SEPARATORS.sub("", raw).upper() if raw.isascii() else ""
    if len(compact) == len(PREFIX) + BODY_LENGTH and compact.startswith(PREFIX):
        compact = compact[len(PREFIX) :]
    if len(compact) != BODY_LENGTH or any(ch not in ALPHABET for ch in compact):
        raise MalformedCode(
            f"A voucher code looks like {PREFIX}-XXXX-XXXX-XXXX-XXXX-XXXX "
            f"({BODY_LENGTH} letters and digits)."
        )
    return compact


def code_hash(body: str) -> str:
    """HMAC-SHA256 (hex) of a normalised body under the voucher hash key."""
    key = settings.VOUCHER_HASH_KEY.encode()
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).hexdigest()


def suffix(body: str) -> str:
    return body[-SUFFIX_LENGTH:]


def demo_body(seed: str, index: int) -> str:
    """A deterministic body derived from ``seed`` — ONLY for the public demo
    vouchers of the embedded default (the seed is in the source code, so these
    codes are public by design and are never issued outside DEBUG)."""
    digest = hmac.new(seed.encode(), f"demo-voucher-{index}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest, "big")
    symbols = []
    for _ in range(BODY_LENGTH):
        number, rem = divmod(number, len(ALPHABET))
        symbols.append(ALPHABET[rem])
    return "".join(symbols)
