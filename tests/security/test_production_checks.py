"""Fail-closed production: the production profile refuses to start on any
empty, sandbox-default or SECRET_KEY-fallback secret, on the local Relworx
sandbox and on simulated prices; DTX_ALLOW_SANDBOX_SERVICES=1 allows the
sandbox and simulated prices only, with a warning at every start. Each
refusal names its setting. Tried in a fresh interpreter, as a deployment
imports the settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dtexchange.production_checks import production_refusals

ROOT = Path(__file__).resolve().parents[2]
SECRET = "k3y-" + "x9Qz" * 12
REAL = {
    "DTX_PROFILE": "production",
    "DEBUG": "false",
    "SECRET_KEY": SECRET,
    "DATABASE_URL": "postgres://dtx@db.internal:5432/dtx",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "RESEND_API_KEY": "re_live_key_123",
    "RELWORX_BASE_URL": "https://payments.relworx.com/api",
    "RELWORX_API_KEY": "live-relworx-key-123",
    "RELWORX_ACCOUNT_NO": "REL0012345678",
    "RELWORX_WEBHOOK_SECRET": "live-webhook-secret-123",
    "FIELD_ENCRYPTION_KEY": "field-key-" + "a1" * 16,
    "VOUCHER_HASH_KEY": "voucher-key-" + "b2" * 16,
    "PRICE_PROVIDER": "http",
    "PRICE_HTTP_URL": "https://api.coingecko.com/api/v3",
    "PRICE_FALLBACK_URL": "https://api.binance.com",
    "FX_HTTP_URL": "https://open.er-api.com",
    "FX_FALLBACK_URL": "https://fx.example.com",
}


def _start(tmp_path, **overrides) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in REAL and not k.startswith(("DJANGO_", "RELWORX_", "DTX_"))
    }
    env.update(DTX_VAR_DIR=str(tmp_path / "var"), **REAL)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-c", "import dtexchange.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_real_production_configuration_starts_without_warning(tmp_path):
    result = _start(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "DTX_ALLOW_SANDBOX_SERVICES" not in result.stderr


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"RELWORX_API_KEY": None}, "RELWORX_API_KEY is the Relworx sandbox default"),
        ({"RELWORX_API_KEY": ""}, "RELWORX_API_KEY is empty"),
        ({"RELWORX_ACCOUNT_NO": None}, "RELWORX_ACCOUNT_NO is the Relworx sandbox default"),
        ({"RELWORX_WEBHOOK_SECRET": None}, "RELWORX_WEBHOOK_SECRET is the Relworx sandbox"),
        ({"RELWORX_WEBHOOK_SECRET": SECRET}, "RELWORX_WEBHOOK_SECRET is SECRET_KEY"),
        ({"FIELD_ENCRYPTION_KEY": None}, "FIELD_ENCRYPTION_KEY is empty (it would fall back"),
        ({"FIELD_ENCRYPTION_KEY": SECRET}, "FIELD_ENCRYPTION_KEY is SECRET_KEY"),
        ({"VOUCHER_HASH_KEY": None}, "VOUCHER_HASH_KEY is SECRET_KEY"),
        ({"RESEND_API_KEY": None}, "RESEND_API_KEY is empty"),
        ({"RELWORX_BASE_URL": None}, "RELWORX_BASE_URL points at the local Relworx sandbox"),
        ({"RELWORX_BASE_URL": "http://localhost:8010/api"}, "RELWORX_BASE_URL points at"),
        ({"PRICE_PROVIDER": None}, "PRICE_PROVIDER is 'simulated'"),
    ],
)
def test_production_refuses_and_names_the_setting(tmp_path, overrides, named):
    result = _start(tmp_path, **overrides)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr


def test_the_staging_opt_in_allows_sandbox_and_simulated_prices_loudly(tmp_path):
    sandbox = {
        "RELWORX_API_KEY": None,
        "RELWORX_ACCOUNT_NO": None,
        "RELWORX_WEBHOOK_SECRET": None,
        "RELWORX_BASE_URL": None,
        "PRICE_PROVIDER": None,
    }
    assert _start(tmp_path, **sandbox).returncode != 0
    result = _start(tmp_path, DTX_ALLOW_SANDBOX_SERVICES="1", **sandbox)
    assert result.returncode == 0, result.stderr
    assert "DTX_ALLOW_SANDBOX_SERVICES=1" in result.stderr
    assert "Never on a site that takes real money" in result.stderr


def test_the_opt_in_never_allows_empty_or_shared_secrets(tmp_path):
    result = _start(
        tmp_path, DTX_ALLOW_SANDBOX_SERVICES="1", FIELD_ENCRYPTION_KEY=None, VOUCHER_HASH_KEY=None
    )
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY is empty" in result.stderr
    assert "VOUCHER_HASH_KEY is SECRET_KEY" in result.stderr


def test_the_embedded_profile_is_not_checked():
    values = {"SECRET_KEY": "x", "PRICE_PROVIDER": "simulated", "RELWORX_API_KEY": ""}
    assert production_refusals(profile="embedded", values=values, allow_sandbox=False) == []
    assert production_refusals(profile="production", values=values, allow_sandbox=False)


@pytest.mark.django_db
def test_load_demo_data_refuses_with_debug_off(settings):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from accounts.models import User

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("load_demo_data")
    settings.DEBUG, settings.DTX_PROFILE = True, "production"
    with pytest.raises(CommandError, match="DTX_PROFILE=production"):
        call_command("load_demo_data")
    assert not User.objects.filter(is_staff=True).exists()
