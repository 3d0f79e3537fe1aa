"""Ugandan mobile-money numbers: normalise to E.164 and name the network.

Relworx wants ``+256…`` and only MTN and Airtel Uganda carry mobile
money we accept. The network is read from the national number's prefix; the
3-digit prefixes must be checked before the 2-digit ones, because 72x and 73x
are split between networks (724/737 are MTN, 730/731 Airtel, the rest neither).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dtexchange.errors import InvalidInput

MTN = "mtn"
AIRTEL = "airtel"
PROVIDER_CHOICES = [(MTN, "MTN Uganda"), (AIRTEL, "Airtel Uganda")]
PROVIDER_NAMES = dict(PROVIDER_CHOICES)

# Prefixes of the 9-digit national significant number (after 256 / the leading 0).
# "79x" (MTN's prefixes) is every 79 followed by one more digit, so 79 covers it.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("724", MTN),
    ("737", MTN),
    ("730", AIRTEL),
    ("731", AIRTEL),
    ("76", MTN),
    ("77", MTN),
    ("78", MTN),
    ("79", MTN),
    ("70", AIRTEL),
    ("74", AIRTEL),
    ("75", AIRTEL),
)

# What people type: spaces, dashes, dots, brackets between digit groups.
_SEPARATORS = re.compile(r"[\s\-.()/]")


@dataclass(frozen=True)
class Msisdn:
    e164: str  # "+256771234567"
    provider: str  # MTN or AIRTEL

    @property
    def provider_name(self) -> str:
        return PROVIDER_NAMES[self.provider]

    @property
    def masked(self) -> str:
        """For screens and logs: "+256 77* *** 567" keeps it recognisable, not usable."""
        return f"{self.e164[:6]}*** ***{self.e164[-3:]}"


def _national_number(raw: str) -> str | None:
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("+"):
        digits = digits[1:]
        if not digits.startswith("256"):
            return None
        digits = digits[3:]
    elif digits.startswith("00256"):
        digits = digits[5:]
    elif digits.startswith("256") and len(digits) == 12:
        digits = digits[3:]
    elif digits.startswith("0") and len(digits) == 10:
        digits = digits[1:]
    if len(digits) != 9 or not digits.isdigit():
        return None
    return digits


def provider_for(national: str) -> str | None:
    for prefix, provider in _PREFIXES:
        if national.startswith(prefix):
            return provider
    return None


def msisdn_parse(*, value: object, field: str = "phone_number") -> Msisdn:
    """Validate a Ugandan mobile-money number; raise InvalidInput naming ``field``.

    Accepts "+256 77 123 4567", "256771234567", "0771234567", "771234567".
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"{field}: enter your MTN or Airtel mobile money number.",
            code="invalid_phone_number",
            details={field: ["Enter your MTN or Airtel mobile money number."]},
        )
    national = _national_number(value.strip())
    if national is None:
        raise InvalidInput(
            f"{field}: this is not a valid Ugandan phone number.",
            code="invalid_phone_number",
            details={field: ["Enter a Ugandan number such as +256 77 123 4567 or 0771234567."]},
        )
    provider = provider_for(national)
    if provider is None:
        raise InvalidInput(
            f"{field}: mobile money works with MTN or Airtel Uganda numbers only.",
            code="unsupported_network",
            details={field: ["This number is not on MTN or Airtel Uganda."]},
        )
    return Msisdn(e164=f"+256{national}", provider=provider)
