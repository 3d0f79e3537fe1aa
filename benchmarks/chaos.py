"""Fault harness: the production profile under mixed load while its parts die.

One node as deploy/ runs it — nginx (the deploy site, TLS) in front of the
Procfile's gunicorn, Daphne, Celery worker and beat, each restarted when it
exits as a process supervisor (compose's ``restart: unless-stopped``) would —
on a PostgreSQL and a Redis of its own (private servers on free ports, never
the machine's shared ones), with the local Relworx sandbox and a local
Resend stand-in that honours ``Idempotency-Key`` as Resend does.

For DURATION seconds, CLIENTS threads buy (wallet balance), sell, swap
(crypto), buy with mobile money and sell to mobile money (payouts) through
the sandbox's numbers (success, duplicate webhook, no webhook, failing), each
request with an Idempotency-Key and retried with it after a failure, as a
careful client does. Meanwhile, every few seconds at random, it kill -9s a
gunicorn worker, Daphne, the Celery worker or beat, and once each restarts
PostgreSQL (immediate mode) and Redis (kill -9: what it had not saved is lost). Then it settles
(the poller, the sweep) for at most SETTLE seconds and checks:

* the ledger reconciles (every currency sums to zero, balances match entries);
* no wallet is negative;
* every trade is terminal (nothing is legitimately waiting at the end: every
  sandbox request has a final outcome, the no-webhook one is polled);
* each sandbox success is settled exactly once, each failure not at all; each
  failed payout refunded exactly once;
* no email was delivered twice (per outbox delivery, at the Resend stub);
* every API answer was JSON (0 HTML), and every failure happened while a part
  was down (within GRACE seconds of a fault);
* the outbox is empty.

It prints the figures (kills and restarts done, requests, failures, the
longest time to recover after each restart) and exits 1 if any check fails.

    .venv/bin/python benchmarks/chaos.py                      # 60 s + settle
    flock /tmp/dtx-cpu.lock .venv/bin/python benchmarks/chaos.py -d 45 --seed 7

Needs root (nginx runs as nobody, PostgreSQL as postgres), Debian's nginx,
PostgreSQL 15 binaries, redis-server and openssl. Bounded: it stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from honcho.environ import parse_procfile  # noqa: E402

from payments.sandbox import SandboxServer  # noqa: E402
from tests.deploy.cluster import PrivatePostgres  # noqa: E402
from tests.deploy.stack import (  # noqa: E402
    DEPLOY,
    Nginx,
    PrivateRedis,
    collect_static,
    descendants,
    free_port,
    make_certificate,
    production_env,
    tls_context,
    wait_for,
    world_readable_dir,
)
from tests.notifications.resend_stub import ResendStub  # noqa: E402

PASSWORD = "pass-1234-word"  # noqa: S105 - tests.factories.DEFAULT_PASSWORD (the seed sets it)
MOMO_BUY_NUMBERS = ["+256770000001", "+256770000004", "+256770000003", "+256770000002"]
MOMO_PAYOUT_NUMBERS = ["+256770000001", "+256770000002"]


class Supervised:
    """One Procfile process, restarted a second after it exits."""

    def __init__(self, name: str, command: str, env: dict, log_dir: Path):
        self.name, self.command, self.env = name, command, env
        self.log = (log_dir / f"{name}.log").open("ab")
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.stopping = False
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> Supervised:
        self._spawn()
        self.thread.start()
        return self

    def _spawn(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - the Procfile's own line
            ["/bin/sh", "-c", f"exec {self.command}"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _watch(self) -> None:
        while not self.stopping:
            proc = self.proc
            proc.wait()
            if self.stopping:
                return
            time.sleep(1.0)
            with self.lock:
                if not self.stopping:
                    self._spawn()
                    self.restarts += 1

    def kill(self, *, children_only: bool = False) -> bool:
        """kill -9 the process (and its pool), or one of its children only."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return False
        if children_only:
            kids = descendants(proc.pid)
            if not kids:
                return False
            with contextlib.suppress(ProcessLookupError):
                os.kill(random.choice(kids), signal.SIGKILL)
            return True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return True

    def stop(self) -> None:
        self.stopping = True
        with self.lock:
            if self.proc is not None and self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.failures: list[tuple[float, str, str]] = []  # (t, op, what)
        self.html = 0
        self.not_json = 0
        self.faults: list[tuple[float, str]] = []
        self.gave_up = 0
        self.refused: dict[str, int] = {}  # 4xx codes: answers, not failures
        # (t, age of the price in seconds or None) of each stale_price answer
        self.stale: list[tuple[float, float | None]] = []

    def answer(self, op: str, response: httpx.Response | None, error: str = "") -> bool:
        """Record one answer; True when the request needs no retry."""
        now = time.monotonic()
        with self.lock:
            self.requests += 1
            if response is None:
                self.failures.append((now, op, error))
                return False
            content_type = response.headers.get("content-type", "")
            if "text/html" in content_type:
                self.html += 1
            elif response.status_code >= 400 and not content_type.startswith("application/json"):
                self.not_json += 1
            if response.status_code >= 500:
                self.failures.append((now, op, f"{response.status_code}"))
                return False
            if response.status_code >= 400:
                try:
                    code = response.json()["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = f"{response.status_code}?"
                    self.not_json += 1
                self.refused[code] = self.refused.get(code, 0) + 1
                if code == "stale_price":
                    age = response.json()["error"]["details"].get("age_seconds")
                    self.stale.append((now, float(age) if age is not None else None))
            return True


def seed(env: dict, emails: list[str]) -> None:
    result = subprocess.run(  # noqa: S603 - our interpreter and module
        [sys.executable, "-m", "tests.deploy.cluster_child", "seed", *emails],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"seeding failed:\n{result.stderr[-3000:]}")


def state(env: dict, sandbox: SandboxServer) -> dict:
    with sandbox.lock:
        requests = {
            r.reference: {"kind": r.kind, "final_status": r.final_status}
            for r in sandbox.requests.values()
        }
    result = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "benchmarks" / "chaos_state.py")],
        cwd=ROOT,
        env=env,
        input=json.dumps({"requests": requests}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        return {"error": result.stderr[-3000:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def operations(rng: random.Random):
    """(name, path, body) of the next request of a client."""
    choice = rng.choices(
        ["buy", "sell", "swap", "momo_buy", "momo_payout"], weights=[3, 2, 1, 2, 1]
    )[0]
    if choice == "buy":
        return choice, "/api/trading/buy", {
            "crypto_currency": "BTC", "fiat_currency": "UGX", "amount": "36000",
            "payment_method": "balance", "payment_details": {},
        }  # fmt: skip
    if choice == "sell":
        return choice, "/api/trading/sell", {
            "crypto_currency": "BTC", "fiat_currency": "UGX", "amount": "0.00005",
            "payment_method": "balance", "payment_details": {},
        }  # fmt: skip
    if choice == "swap":
        return choice, "/api/trading/buy", {
            "crypto_currency": "SOL", "fiat_currency": "USD", "amount": "0.01",
            "payment_method": "crypto", "payment_details": {"from_currency": "BTC"},
        }  # fmt: skip
    if choice == "momo_buy":
        return choice, "/api/trading/buy", {
            "crypto_currency": "BTC", "fiat_currency": "UGX", "amount": "20000",
            "payment_method": "mobile_money",
            "payment_details": {"phone_number": rng.choice(MOMO_BUY_NUMBERS)},
        }  # fmt: skip
    return choice, "/api/trading/sell", {
        "crypto_currency": "BTC", "fiat_currency": "UGX", "amount": "0.0001",
        "payment_method": "mobile_money",
        "payment_details": {"phone_number": rng.choice(MOMO_PAYOUT_NUMBERS)},
    }  # fmt: skip


def sign_in(http: httpx.Client, email: str) -> str:
    """An access token (before the load: a password check costs a full PBKDF2)."""
    for _attempt in range(60):
        with contextlib.suppress(httpx.TransportError):
            r = http.post("/api/auth/token", json={"email": email, "password": PASSWORD})
            if r.status_code == 200:
                return r.json()["access"]
        time.sleep(0.5)
    raise SystemExit(f"could not sign in {email}")


def client_loop(base_url: str, cert: Path, email: str, rec: Recorder, stop, ready, seed_: int):
    rng = random.Random(seed_)
    transport = httpx.HTTPTransport(verify=tls_context(cert))
    http = httpx.Client(base_url=base_url, transport=transport, timeout=30)
    access = sign_in(http, email)
    ready.wait()
    while not stop.is_set():
        op, path, body = operations(rng)
        key = f"chaos-{uuid.uuid4()}"
        headers = {"Authorization": f"Bearer {access}", "Idempotency-Key": key}
        for _attempt in range(40):  # up to ~20 s of retries with the same key
            try:
                response = http.post(path, json=body, headers=headers)
            except httpx.TransportError as exc:
                rec.answer(op, None, type(exc).__name__)
                time.sleep(0.5)
                continue
            if rec.answer(op, response):
                if response.status_code == 401:
                    access = sign_in(http, email)  # the access token expired
                break
            time.sleep(0.5)
        else:
            with rec.lock:
                rec.gave_up += 1
        time.sleep(0.05)


def probe_loop(base_url: str, cert: Path, samples: list, stop) -> None:
    """/readyz through nginx every 0.25 s: (t, ok)."""
    transport = httpx.HTTPTransport(verify=tls_context(cert))
    http = httpx.Client(base_url=base_url, transport=transport, timeout=5)
    while not stop.is_set():
        try:
            ok = http.get("/readyz").status_code == 200
        except httpx.TransportError:
            ok = False
        samples.append((time.monotonic(), ok))
        time.sleep(0.25)


def recovery_after(t: float, samples: list) -> float | None:
    """Seconds from ``t`` until /readyz answered 200 again after failing (0 if it never failed)."""
    after = [(ts, ok) for ts, ok in samples if ts >= t]
    failed = False
    for ts, ok in after:
        if not ok:
            failed = True
        elif failed:
            return ts - t
    return 0.0 if after and not failed else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--duration", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=60.0)
    parser.add_argument("-c", "--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--grace", type=float, default=15.0)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    seed_ = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    rng = random.Random(seed_)
    work = Path(tempfile.mkdtemp(prefix="dtx-chaos-"))
    print(f"chaos: seed {seed_}, {args.duration:.0f} s load, work folder {work}", flush=True)
    started = time.monotonic()
    parts: list = []
    supervised: dict[str, Supervised] = {}
    stop = threading.Event()
    rec = Recorder()
    samples: list = []
    try:
        pg = PrivatePostgres(host="127.0.0.1", trusted="127.0.0.1/32").start()
        parts.append(pg)
        redis_server = PrivateRedis(work / "redis", persist=True).start()
        parts.append(redis_server)
        resend = ResendStub().__enter__()
        parts.append(type("R", (), {"stop": lambda self: resend.__exit__(None, None, None)})())
        tls = world_readable_dir("dtx-chaos-tls-")
        cert, key = make_certificate(tls, ips=["127.0.0.1"])
        static_root = collect_static()
        web_port, ws_port = free_port(), free_port()
        nginx = Nginx(
            cert=cert,
            key=key,
            static_root=static_root,
            web=[f"127.0.0.1:{web_port}"],
            ws=[f"127.0.0.1:{ws_port}"],
        )
        sandbox = SandboxServer(
            api_key="chaos-relworx-key",
            account_no="RELCHAOS0001",
            webhook_url=f"{nginx.base_url}/api/payments/relworx/webhook",
            webhook_secret="chaos-webhook-secret",  # noqa: S106 - the sandbox's own
            webhook_delay=1.0,
            webhook_gap=0.5,
            webhook_cafile=str(cert),  # its webhooks go to nginx over TLS
        ).start()
        parts.append(sandbox)
        env = production_env(
            database_url=pg.url(),
            redis_url=redis_server.url,
            var_dir=work / "var",
            site_url=nginx.base_url,
            allowed_hosts=["127.0.0.1"],
            resend_url=resend.url,
            extra={
                "THROTTLE_TRADING": "100000/min",
                "THROTTLE_AUTH_IP": "100000/min",
                "THROTTLE_AUTH_ACCOUNT": "100000/min",
                "RELWORX_BASE_URL": sandbox.base_url,
                "RELWORX_API_KEY": sandbox.api_key,
                "RELWORX_ACCOUNT_NO": sandbox.account_no,
                "RELWORX_WEBHOOK_SECRET": sandbox.webhook_secret,
                "RELWORX_WEBHOOK_URL": sandbox.webhook_url,
                "RELWORX_TIMEOUT_SECONDS": "5",
                # The no-webhook number is settled by the poller inside the run.
                "RELWORX_POLL_AFTER_SECONDS": "5",
                "RELWORX_POLL_EVERY_SECONDS": "3",
                "RELWORX_POLL_MAX_INTERVAL_SECONDS": "5",
                # Outbox retries back off from 2 s up to 10 s (production: 10 s to 1 h),
                # so what failed while a part was down is retried inside the run.
                "OUTBOX_RETRY_BASE_SECONDS": "2",
                "OUTBOX_RETRY_MAX_SECONDS": "10",
                # A send task lost with a killed worker (or with Redis) is queued
                # again once its claim runs out: 15 s here (production: 300 s).
                "OUTBOX_EMAIL_CLAIM_SECONDS": "15",
                "WEB_BIND": f"127.0.0.1:{web_port}",
                "WEB_CONCURRENCY": "3",
                "WS_HOST": "127.0.0.1",
                "WS_PORT": str(ws_port),
                "WORKER_CONCURRENCY": "2",
                "NODE_NAME": "chaos",
            },
        )
        # The release step, once.
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        emails = [f"chaos{i}@example.test" for i in range(args.clients)]
        child_env = {
            **os.environ,
            "DATABASE_URL": pg.url(),
            "REDIS_URL": redis_server.url,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            # The nodes' keys: the seed's and the checks' rows are theirs.
            "SECRET_KEY": env["SECRET_KEY"],
            "FIELD_ENCRYPTION_KEY": env["FIELD_ENCRYPTION_KEY"],
        }
        seed(child_env, emails)
        processes = parse_procfile((DEPLOY / "Procfile").read_text()).processes
        for name, command in processes.items():
            supervised[name] = Supervised(name, command, env, work).start()
        parts.append(nginx.start())
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{web_port}/healthz", timeout=2).status_code == 200,
            timeout=90,
            what="gunicorn",
            interval=0.3,
        )
        check = httpx.Client(verify=tls_context(cert), timeout=5)
        wait_for(
            lambda: check.get(f"{nginx.base_url}/api/trading/prices?crypto=BTC&fiat=UGX")
            .status_code == 200,
            timeout=60,
            what="prices",
            interval=0.5,
        )  # fmt: skip
        print(f"chaos: up in {time.monotonic() - started:.1f} s; load starts", flush=True)

        ready = threading.Barrier(len(emails) + 1, timeout=180)
        threads = [
            threading.Thread(
                target=client_loop,
                args=(nginx.base_url, cert, email, rec, stop, ready, seed_ + i),
                daemon=True,
            )
            for i, email in enumerate(emails)
        ]
        threads.append(
            threading.Thread(
                target=probe_loop, args=(nginx.base_url, cert, samples, stop), daemon=True
            )
        )
        for thread in threads:
            thread.start()
        ready.wait()  # every client signed in
        load_start = time.monotonic()
        pg_at, redis_at = load_start + 0.35 * args.duration, load_start + 0.6 * args.duration
        kills: dict[str, int] = {}
        restarts: dict[str, float] = {}
        next_kill = load_start + rng.uniform(2, 5)
        while time.monotonic() - load_start < args.duration:
            now = time.monotonic()
            if pg_at and now >= pg_at:
                rec.faults.append((now, "postgres"))
                pg.restart_immediate()
                restarts["postgres"] = now
                pg_at = 0
            elif redis_at and now >= redis_at:
                rec.faults.append((now, "redis"))
                redis_server.restart_killed()
                restarts["redis"] = now
                redis_at = 0
            elif now >= next_kill and now - load_start < 0.9 * args.duration:
                target = rng.choice(["gunicorn worker", "daphne", "celery worker", "beat"])
                done = {
                    "gunicorn worker": lambda: supervised["web"].kill(children_only=True),
                    "daphne": lambda: supervised["ws"].kill(),
                    "celery worker": lambda: supervised["worker"].kill(),
                    "beat": lambda: supervised["beat"].kill(),
                }[target]()
                if done:
                    rec.faults.append((now, target))
                    kills[target] = kills.get(target, 0) + 1
                next_kill = now + rng.uniform(2, 5)
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        load_seconds = time.monotonic() - load_start

        # Settle: the poller, the sweep and the retries finish what was started.
        deadline = time.monotonic() + args.settle
        final = state(child_env, sandbox)
        while time.monotonic() < deadline and not _settled(final):
            time.sleep(3)
            final = state(child_env, sandbox)
        settle_seconds = args.settle - max(0.0, deadline - time.monotonic())

        # Checks.
        checks: list[tuple[str, bool, str]] = []
        if "error" in final:
            checks.append(("state readable", False, final["error"]))
        else:
            checks += [
                ("ledger reconciles, every currency sums to zero, no wallet negative",
                 final["reconciled"], "; ".join(final["ledger_problems"])),
                ("every trade terminal", final["not_terminal_count"] == 0,
                 str(final["not_terminal"])[:800]),
                ("each sandbox outcome settled exactly once", final["payment_problem_count"] == 0,
                 "; ".join(final["payment_problems"])[:1500]),
                ("outbox empty", final["outbox_undelivered_events"] == 0
                 and final["outbox_pending_deliveries"] == 0,
                 f"{final['outbox_undelivered_events']} events, "
                 f"{final['outbox_pending_deliveries']} deliveries pending, e.g. "
                 f"{final['outbox_pending_sample']}"),
            ]  # fmt: skip
            delivered_keys = [r["idempotency_key"] for r in resend.requests if r["idempotency_key"]]
            sent = len(resend.sent)
            unique = len({k.split("/")[1] for k in delivered_keys if k.count("/") >= 2})
            db_delivered = set(map(str, final["email_delivery_ids"]))
            stub_ids = {k.split("/")[1] for k in delivered_keys if k.count("/") >= 2}
            checks.append((
                "no email delivered twice",
                sent == unique and stub_ids >= db_delivered,
                f"stub delivered {sent} emails for {unique} outbox deliveries; "
                f"{len(db_delivered - stub_ids)} marked delivered but never sent",
            ))  # fmt: skip
        outside = [
            (t, op, what)
            for t, op, what in rec.failures
            if not any(ft - 1 <= t <= ft + args.grace for ft, _ in rec.faults)
        ]
        unexplained = stale_unexplained(rec.stale, rec.faults, args.grace)
        checks += [
            ("stale prices only after the price ticker (beat) or a server died",
             not unexplained,
             f"{len(unexplained)} stale_price answers with no fault since the last refresh: "
             f"{unexplained[:5]}"),
            ("every API answer JSON (0 HTML)", rec.html == 0 and rec.not_json == 0,
             f"{rec.html} HTML, {rec.not_json} other non-JSON"),
            ("failures only while a part is down", not outside,
             f"{len(outside)} outside {args.grace:.0f} s of a fault: {outside[:5]}"),
            ("every request got an answer in the end", rec.gave_up == 0, f"{rec.gave_up} gave up"),
        ]  # fmt: skip

        recoveries = {name: recovery_after(t, samples) for name, t in restarts.items()}
        print()
        print(f"chaos: seed {seed_}; load {load_seconds:.0f} s, settle {settle_seconds:.0f} s")
        print(f"  requests {rec.requests}, failed {len(rec.failures)} (retried with their key)")
        kinds: dict[str, int] = {}
        for _t, _op, what in rec.failures:
            kinds[what] = kinds.get(what, 0) + 1
        print(f"  failures by answer: {kinds}")
        print(f"  refused (4xx, as answers): {rec.refused}")
        if rec.stale:
            ages = [age for _t, age in rec.stale if age is not None]
            print(
                f"  stale prices: {len(rec.stale)} answers over "
                f"{stale_seconds(rec.stale):.1f} s in all, "
                f"oldest price {max(ages, default=0):.0f} s"
            )
        print(f"  kills: {kills}; restarts: {sorted(restarts)}")
        print(
            "  process restarts by the supervisor: "
            + ", ".join(f"{n} {s.restarts}" for n, s in supervised.items())
        )
        for name, seconds in recoveries.items():
            shown = "never failed" if seconds == 0 else (
                f"{seconds:.1f} s" if seconds is not None else "did not recover"
            )  # fmt: skip
            print(f"  /readyz back after the {name} restart: {shown}")
        if "trades" in final:
            print(f"  trades by status: {final['trades']}")
            print(f"  sandbox outcomes checked: {final['payments_checked']}")
            print(f"  emails delivered by the Resend stub: {len(resend.sent)}")
        failed = [c for c in checks if not c[1]]
        for name, ok, detail in checks:
            print(f"  [{'ok' if ok else 'FAIL'}] {name}" + ("" if ok else f": {detail}"))
        print(
            f"chaos: {'PASSED' if not failed else 'FAILED'} in {time.monotonic() - started:.0f} s"
        )
        return 1 if failed else 0
    finally:
        stop.set()
        for proc in supervised.values():
            proc.stop()
        for part in reversed(parts):
            with contextlib.suppress(Exception):
                part.stop()
        for folder in (locals().get("tls"), getattr(locals().get("static_root"), "parent", None)):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def stale_unexplained(stale: list, faults: list, grace: float) -> list:
    """The stale_price answers that no fault explains. A price is refreshed by
    beat's tick through the worker into Redis, so it goes stale only when one
    of those (or PostgreSQL, which the tick's outbox write needs) was down since
    its last refresh: some fault at or after ``t - age`` (1 s of slack for the
    answer's whole-second age). Without an age, within ``grace`` of a fault."""
    ticker = {"beat", "celery worker", "redis", "postgres"}
    unexplained = []
    for t, age in stale:
        since = t - age - 1 if age is not None else t - grace
        if not any(since <= ft <= t for ft, name in faults if name in ticker):
            unexplained.append((round(t, 1), age))
    return unexplained


def stale_seconds(stale: list, gap: float = 1.0) -> float:
    """Seconds covered by stale_price answers (answers under ``gap`` apart join)."""
    times = sorted(t for t, _age in stale)
    total, start = 0.0, times[0] if times else 0.0
    for previous, t in itertools.pairwise(times):
        if t - previous > gap:
            total += previous - start
            start = t
    return total + (times[-1] - start if times else 0.0)


def _settled(final: dict) -> bool:
    return (
        "error" not in final
        and final["not_terminal_count"] == 0
        and final["outbox_undelivered_events"] == 0
        and final["outbox_pending_deliveries"] == 0
        and final["payment_problem_count"] == 0
    )


if __name__ == "__main__":
    sys.exit(main())
