"""Container health check: GET /healthz on this container's own server.

    python deploy/healthcheck.py [PORT]      (default 8001, gunicorn; 8002 is Daphne)

Asks with the site's own host name (the first of ALLOWED_HOSTS), since
Django refuses any other Host; exits 0 on a 200, 1 otherwise. Standard
library only, so it costs no import of Django.
"""

import http.client
import os
import sys


def main() -> int:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8001
    host = os.environ.get("ALLOWED_HOSTS", "localhost").split(",")[0].strip().lstrip(".")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=4)
    try:
        conn.request("GET", "/healthz", headers={"Host": host or "localhost"})
        return 0 if conn.getresponse().status == 200 else 1
    except OSError:
        return 1
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
