"""`make run`: start every process of the embedded default and stop them all
on Ctrl-C (or when one of them dies)."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")

# name -> argv. Other long-running parts (the Relworx sandbox, ...) add theirs here.
PROCESSES: dict[str, list[str]] = {
    "web": [PY, "-m", "daphne", "-b", HOST, "-p", PORT, "dtexchange.asgi:application"],
    "worker": [
        PY,
        "-m",
        "celery",
        "-A",
        "dtexchange",
        "worker",
        "-l",
        "warning",
        "--concurrency",
        "2",
    ],
    "beat": [PY, "-m", "celery", "-A", "dtexchange", "beat", "-l", "warning"],
    # The local Relworx stand-in on settings.RELWORX_BASE_URL's default port;
    # it signs webhooks for, and posts them to, the web process above.
    "relworx-sandbox": [
        PY,
        "-m",
        "payments.sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        os.environ.get("RELWORX_SANDBOX_PORT", "8010"),
    ],
}


def main() -> int:
    # The metrics' per-process files start empty with the processes
    # (dtexchange/metrics.py); the settings make the folder again.
    var_dir = Path(os.environ.get("DTX_VAR_DIR") or ROOT / "var")
    shutil.rmtree(var_dir / "metrics", ignore_errors=True)
    children: dict[str, subprocess.Popen] = {}
    for name, argv in PROCESSES.items():
        # Each child in its own process group, so Ctrl-C reaches it only through us.
        children[name] = subprocess.Popen(argv, cwd=ROOT, start_new_session=True)  # noqa: S603
    print(f"DT Exchange is up on http://{HOST}:{PORT}  (API docs: /api/docs/, admin: /admin/)")
    print("Press Ctrl-C to stop.")
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, proc in children.items():
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping the rest.")
                exit_code = proc.returncode or 1
                stopping = True
                break
        time.sleep(0.5)
    for proc in children.values():
        if proc.poll() is None:
            # The main process only: Celery's worker then stops its own pool
            # (a signal to the whole group kills the pool under it).
            proc.terminate()
    deadline = time.monotonic() + 10
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
