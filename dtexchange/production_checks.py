"""Fail-closed production: the checks the settings module runs before the app
starts in the production profile.

A production site refuses to start on any secret that is empty, a sandbox
default or a fallback to ``SECRET_KEY``; on a Relworx base URL pointing at
the local sandbox; and on simulated prices. One explicit opt-in for a staging
site, ``DTX_ALLOW_SANDBOX_SERVICES=1``, allows the Relworx sandbox and
simulated prices (never empty or shared secrets) and is logged as a warning
every time a process starts. Each refusal names its setting.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger("dtexchange.production_checks")

SANDBOX_DEFAULTS = frozenset({"sandbox-webhook-secret", "sandbox-api-key", "RELSANDBOX0001"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "[::1]"})  # noqa: S104
ALLOW_SANDBOX_SETTING = "DTX_ALLOW_SANDBOX_SERVICES"

# Secrets with a sandbox default (allowed only with the opt-in).
_SANDBOX_SECRETS = ("RELWORX_API_KEY", "RELWORX_ACCOUNT_NO", "RELWORX_WEBHOOK_SECRET")
# Secrets that must be their own: set, and not SECRET_KEY (a leak of one key
# would otherwise open them all).
_OWN_SECRETS = ("FIELD_ENCRYPTION_KEY", "VOUCHER_HASH_KEY", "RESEND_API_KEY")
_FALLBACKS = frozenset({"FIELD_ENCRYPTION_KEY"})  # empty means "use SECRET_KEY" in code


def _is_local(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in LOCAL_HOSTS or host.startswith("127.")


def production_refusals(
    *, profile: str, values: Mapping[str, Any], allow_sandbox: bool
) -> list[str]:
    """Why the settings in ``values`` may not run as ``profile`` (empty: they
    may). Only the production profile is checked."""
    if profile != "production":
        return []
    refusals: list[str] = []
    secret_key = values.get("SECRET_KEY") or ""
    for name in (*_SANDBOX_SECRETS, *_OWN_SECRETS):
        value = str(values.get(name) or "")
        first = value.split(",")[0].strip()  # FIELD_ENCRYPTION_KEY may list several
        if not first:
            fallback = " (it would fall back to SECRET_KEY)" if name in _FALLBACKS else ""
            refusals.append(f"{name} is empty{fallback}.")
        elif secret_key and first == secret_key:
            refusals.append(f"{name} is SECRET_KEY: give it a secret of its own.")
        elif value in SANDBOX_DEFAULTS and not allow_sandbox:
            refusals.append(
                f"{name} is the Relworx sandbox default ({value!r}); "
                f"set the real one (or {ALLOW_SANDBOX_SETTING}=1 on a staging site)."
            )
    base_url = str(values.get("RELWORX_BASE_URL") or "")
    if not base_url:
        refusals.append("RELWORX_BASE_URL is empty.")
    elif _is_local(base_url) and not allow_sandbox:
        refusals.append(
            f"RELWORX_BASE_URL points at the local Relworx sandbox ({base_url}); "
            "set https://payments.relworx.com/api "
            f"(or {ALLOW_SANDBOX_SETTING}=1 on a staging site)."
        )
    if values.get("PRICE_PROVIDER") == "simulated" and not allow_sandbox:
        refusals.append(
            "PRICE_PROVIDER is 'simulated'; set a real provider "
            f"(or {ALLOW_SANDBOX_SETTING}=1 on a staging site)."
        )
    return refusals


def production_settings_check(
    *, profile: str, values: Mapping[str, Any], allow_sandbox: bool
) -> None:
    """Raise ImproperlyConfigured listing every refusal; log the loud warning
    when the sandbox opt-in is on in production."""
    refusals = production_refusals(profile=profile, values=values, allow_sandbox=allow_sandbox)
    if refusals:
        raise ImproperlyConfigured(
            "The production profile refuses to start:\n  - " + "\n  - ".join(refusals)
        )
    if profile == "production" and allow_sandbox:
        log.warning(
            "%s=1: this production-profile site may use the Relworx sandbox and "
            "simulated prices. Never on a site that takes real money.",
            ALLOW_SANDBOX_SETTING,
        )
