"""``python -m payments.sandbox``: run the Relworx sandbox on its own.

Defaults match dtexchange/settings.py (RELWORX_* variables, SITE_URL), so the
app and the sandbox agree on keys and the webhook URL with nothing set.
"""

import argparse
import os
import signal
import sys

from payments.sandbox.server import SandboxServer


def main() -> int:
    env = os.environ.get
    site = env("SITE_URL", "http://127.0.0.1:8000")
    parser = argparse.ArgumentParser(description="Local Relworx API sandbox")
    parser.add_argument("--host", default=env("RELWORX_SANDBOX_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("RELWORX_SANDBOX_PORT", "8010")))
    parser.add_argument("--api-key", default=env("RELWORX_API_KEY", "sandbox-api-key"))
    parser.add_argument("--account-no", default=env("RELWORX_ACCOUNT_NO", "RELSANDBOX0001"))
    parser.add_argument(
        "--webhook-url",
        default=env("RELWORX_WEBHOOK_URL", f"{site}/api/payments/relworx/webhook"),
    )
    parser.add_argument(
        "--webhook-secret", default=env("RELWORX_WEBHOOK_SECRET", "sandbox-webhook-secret")
    )
    parser.add_argument("--webhook-delay", type=float, default=3.0)
    args = parser.parse_args()
    server = SandboxServer(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        account_no=args.account_no,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
        webhook_delay=args.webhook_delay,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"Relworx sandbox on {server.base_url} → webhooks to {args.webhook_url}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
