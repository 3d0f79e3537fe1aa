"""A local stand-in for Resend's POST /emails, with its idempotency rules
(https://resend.com/docs/dashboard/emails/idempotency-keys): a request whose
``Idempotency-Key`` was seen before gets the first response again and sends
nothing; the same key with a different body is a 409."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "re_test_key"


class ResendStub:
    def __init__(self, *, before_reply=None, host: str = "127.0.0.1"):
        self.sent: list[dict] = []  # emails Resend would have delivered
        self.requests: list[dict] = []  # every POST /emails: headers and body
        self.before_reply = before_reply  # called with each request, before the answer
        self._replies: dict[str, tuple[bytes, bytes]] = {}  # key -> (body, response)
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/emails":
                    return self._answer(404, {"name": "not_found"})
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    return self._answer(401, {"name": "missing_api_key"})
                key = self.headers.get("Idempotency-Key")
                stub.requests.append({"idempotency_key": key, "body": json.loads(body)})
                with stub._lock:
                    if key is not None and key in stub._replies:
                        first_body, response = stub._replies[key]
                        if first_body != body:
                            return self._answer(409, {"name": "invalid_idempotent_request"})
                    else:
                        response = json.dumps({"id": str(uuid.uuid4())}).encode()
                        stub.sent.append(json.loads(body))
                        if key is not None:
                            stub._replies[key] = (body, response)
                if stub.before_reply is not None:
                    stub.before_reply(stub.requests[-1])
                self._answer(200, response)

            def _answer(self, status, content):
                data = content if isinstance(content, bytes) else json.dumps(content).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting (a lost response)
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def mailers(self, **options) -> dict:
        """MAILERS for the project's production backend, pointed at this stub."""
        return {
            "default": {
                "BACKEND": "dtexchange.mail.ResendEmailBackend",
                "OPTIONS": {"api_key": API_KEY, "api_url": self.url, **options},
            }
        }

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
