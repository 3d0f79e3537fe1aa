"""The settings module as each profile imports it: in a fresh interpreter with
only the environment a real deployment would have."""

import json
import os
import subprocess
import sys
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest
from django.core.mail import EmailMultiAlternatives

from dtexchange import embedded
from dtexchange.mail import EmlFileBackend

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, dtexchange.settings as s; print(json.dumps({"
    "'profile': s.DTX_PROFILE, 'debug': s.DEBUG, "
    "'session_secure': getattr(s, 'SESSION_COOKIE_SECURE', False), "
    "'csrf_secure': getattr(s, 'CSRF_COOKIE_SECURE', False), "
    "'hsts': getattr(s, 'SECURE_HSTS_SECONDS', 0), 'mailers': s.MAILERS, "
    "'ssl_redirect': getattr(s, 'SECURE_SSL_REDIRECT', False), "
    "'redirect_exempt': getattr(s, 'SECURE_REDIRECT_EXEMPT', []), "
    "'db': s.DATABASES['default']['ENGINE'], 'broker': s.CELERY_BROKER_URL}))"
)
GOOD_SECRET = "k3y-" + "x9Qz" * 12
PRODUCTION_URLS = {
    "DATABASE_URL": "postgres://dtx@db.internal:5432/dtx",
    "REDIS_URL": "redis://redis.internal:6379/0",
}


def _import_settings(tmp_path, **env_vars) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "RESEND_API_KEY", "DTX_PROFILE"}
        and not k.startswith("DJANGO_")
    }
    env.update(DTX_VAR_DIR=str(tmp_path / "var"), **env_vars)
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "secret",
    [None, "", "dev-insecure-secret-key-change-me", "too-short-secret"],
    ids=["missing", "empty", "default", "short"],
)
def test_production_refuses_a_missing_or_default_secret(tmp_path, secret):
    env = {"DTX_PROFILE": "production", **PRODUCTION_URLS}
    if secret is not None:
        env["SECRET_KEY"] = secret
    result = _import_settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "refuses to start without a real secret" in result.stderr


def test_production_with_a_real_secret_starts_hardened(tmp_path):
    result = _import_settings(
        tmp_path,
        DTX_PROFILE="production",
        SECRET_KEY=GOOD_SECRET,
        RESEND_API_KEY="re_test_key",
        **PRODUCTION_URLS,
        # Real-looking services (tests/security/test_production_checks.py
        # tries each missing one).
        RELWORX_BASE_URL="https://payments.relworx.com/api",
        RELWORX_API_KEY="live-relworx-key-123",
        RELWORX_ACCOUNT_NO="REL0012345678",
        RELWORX_WEBHOOK_SECRET="live-webhook-secret-123",
        FIELD_ENCRYPTION_KEY="field-key-" + "a1" * 16,
        VOUCHER_HASH_KEY="voucher-key-" + "b2" * 16,
        PRICE_PROVIDER="http",
        PRICE_HTTP_URL="https://api.coingecko.com/api/v3",
        PRICE_FALLBACK_URL="https://api.binance.com",
        FX_HTTP_URL="https://open.er-api.com",
        FX_FALLBACK_URL="https://fx.example.com",
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["profile"] == "production"
    assert probe["debug"] is False
    assert probe["session_secure"] and probe["csrf_secure"]
    assert probe["hsts"] >= 31536000
    assert probe["ssl_redirect"] is True
    assert probe["redirect_exempt"] == [r"^healthz$", r"^readyz$"]
    assert probe["db"].endswith("postgresql")
    assert probe["broker"] == "redis://redis.internal:6379/0"
    assert probe["mailers"]["default"]["BACKEND"] == "dtexchange.mail.ResendEmailBackend"


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without_its_servers(tmp_path, missing):
    urls = {k: v for k, v in PRODUCTION_URLS.items() if k != missing}
    result = _import_settings(tmp_path, DTX_PROFILE="production", SECRET_KEY=GOOD_SECRET, **urls)
    assert result.returncode != 0
    assert f"DTX_PROFILE=production needs {missing}" in result.stderr


def test_an_unknown_profile_is_refused(tmp_path):
    result = _import_settings(tmp_path, DTX_PROFILE="prod")
    assert result.returncode != 0
    assert "DTX_PROFILE='prod': must be one of embedded, production" in result.stderr


def test_the_profile_is_not_guessed_from_the_database_url(tmp_path):
    """Real servers in the embedded profile (CI, a developer's own PostgreSQL)
    keep the embedded profile: DEBUG on, no production hardening."""
    result = _import_settings(tmp_path, **PRODUCTION_URLS)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["profile"] == "embedded"
    assert probe["debug"] is True
    assert probe["ssl_redirect"] is False


def test_embedded_default_without_make_run_says_to_start_it(tmp_path):
    result = _import_settings(tmp_path)
    assert result.returncode != 0
    assert "EmbeddedServersNotRunning" in result.stderr
    assert "start `make run` first" in result.stderr


def test_embedded_default_takes_the_servers_make_run_recorded(tmp_path):
    """Nothing to set: the URLs come from var/servers.json while the process
    that wrote it (make run) holds var/run.lock; importing starts nothing."""
    var = tmp_path / "var"
    urls = {
        "database_url": "postgres://postgres@127.0.0.1:40001/dtexchange",
        "redis_url": "redis://127.0.0.1:40002/0",
    }
    with embedded.RunLock(var):
        embedded.write_state(var, **urls)
        result = _import_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["profile"] == "embedded"
    assert probe["debug"] is True
    assert probe["db"] == "django.db.backends.postgresql"
    assert probe["broker"] == urls["redis_url"]
    assert probe["mailers"]["default"] == {
        "BACKEND": "dtexchange.mail.EmlFileBackend",
        "OPTIONS": {"file_path": str(var / "mail")},
    }
    # A file left by a crashed run (nobody holds the lock) does not count.
    crashed = _import_settings(tmp_path)
    assert crashed.returncode != 0
    assert "start `make run` first" in crashed.stderr


def test_settings_contain_no_second_database_engine():
    text = (ROOT / "dtexchange" / "settings.py").read_text().lower()
    assert "sqlite" not in text
    assert "inmemorychannellayer" not in text
    assert "filesystem://" not in text


def test_eml_backend_writes_one_openable_file_per_message(tmp_path):
    backend = EmlFileBackend(file_path=str(tmp_path / "mail"), alias="default")
    messages = []
    for n in range(2):
        message = EmailMultiAlternatives(
            subject=f"Hello {n}", body=f"plain {n}", to=[f"u{n}@example.ug"], connection=backend
        )
        message.attach_alternative(f"<p>html {n}</p>", "text/html")
        messages.append(message)
    assert backend.send_messages(messages) == 2
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    parsed = sorted(
        (message_from_bytes(f.read_bytes(), policy=email_policy.default) for f in files),
        key=lambda m: m["Subject"],
    )
    assert [m["Subject"] for m in parsed] == ["Hello 0", "Hello 1"]
    assert parsed[1]["To"] == "u1@example.ug"
    assert parsed[1].get_body(("html",)).get_content().strip() == "<p>html 1</p>"
