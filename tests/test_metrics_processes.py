"""The metrics across real processes: two gunicorn workers add up to one
count at /metrics, and the Celery worker serves its task counters on its
own port."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories import UserFactory, fund_reserves, fund_wallet, set_prices
from tests.notifications.daphne_server import free_port
from tests.notifications.daphne_server import test_database_url as database_url
from tests.test_metrics import samples, value

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[1]


def _env(metrics_dir: Path, **extra) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "THROTTLE_TRADING": "10000/min",
        **extra,
    }


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[:4]} exited: {proc.stdout.read()[-3000:]}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()


def _trades_by_pid(metrics_dir: Path) -> dict[int, float]:
    """Completed trades counted in each process's own file."""
    out = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for metric in MultiProcessCollector.merge([str(path)], accumulate=True):
            if metric.name == "dtx_trades":
                out[pid] = sum(
                    s.value
                    for s in metric.samples
                    if s.name == "dtx_trades_total" and s.labels["status"] == "completed"
                )
    return out


def test_two_gunicorn_workers_add_up_to_one_count(tmp_path):
    set_prices()
    fund_reserves()
    user = UserFactory()
    fund_wallet(user, "USD", "1000.00")
    token = str(RefreshToken.for_user(user).access_token)
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:dtexchange.gunicorn_conf",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "dtexchange.wsgi:application",
        ],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/healthz", proc)
        n = 16

        def buy(i: int) -> int:
            # A new connection each time, several at once: both workers serve.
            response = httpx.post(
                f"{base}/api/trading/buy",
                json={
                    "crypto_currency": "BTC",
                    "fiat_currency": "USD",
                    "amount": "10.00",
                    "payment_method": "balance",
                },
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                timeout=60,
            )
            return response.status_code

        with ThreadPoolExecutor(max_workers=4) as pool:
            assert list(pool.map(buy, range(n))) == [201] * n
        by_pid = _trades_by_pid(tmp_path)
        assert len([c for c in by_pid.values() if c]) == 2, by_pid
        scraped = samples(httpx.get(f"{base}/metrics", timeout=30).text)
        labels = {"trade_type": "buy", "payment_method": "balance", "crypto_currency": "BTC"}
        assert value(scraped, "dtx_trades_total", status="completed", **labels) == n
        assert value(
            scraped, "dtx_trade_volume_total", fiat_currency="USD", payment_method="balance"
        ) == (pytest.approx(10.0 * n))
        # The HTTP and database metrics add up the same way.
        posts = value(scraped, "django_http_requests_total_by_method_total", method="POST")
        assert posts == n
        assert value(scraped, "django_db_execute_total", alias="default", vendor="postgresql") > n
    finally:
        _stop(proc)


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_the_celery_worker_serves_its_task_counters_on_its_own_port(tmp_path):
    from dtexchange.celery import app

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dtexchange", "worker", "-l", "warning", "-c", "2"],
        cwd=ROOT,
        env=_env(tmp_path, CELERY_METRICS_PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        _wait_http(url, proc)
        for _ in range(3):
            app.send_task("notifications.outbox_sweep")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            scraped = samples(httpx.get(url, timeout=10).text)
            done = value(
                scraped,
                "dtx_celery_tasks_total",
                task="notifications.outbox_sweep",
                state="success",
            )
            if done >= 3:
                break
            time.sleep(0.3)
        assert done == 3
        # States are the web's to report (once per node), not the worker's.
        assert not [key for key in scraped if key[0].startswith("dtx_outbox_pending")]
    finally:
        _stop(proc)
