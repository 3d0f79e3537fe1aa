"""Email backends: the embedded default's ``.eml`` files, and Resend with
idempotency keys (production)."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

from anymail.backends.resend import EmailBackend as AnymailResendBackend
from anymail.backends.resend import ResendPayload
from django.core.mail import InvalidMailer
from django.core.mail.backends.base import BaseEmailBackend


class EmlFileBackend(BaseEmailBackend):
    """Writes each message to ``<file_path>/<UTC time>-<random>.eml``.

    Django's file backend appends every message of a connection to one
    ``.log`` file with separators; a person (or a test) wants one message
    per file, openable by any mail client.
    """

    def __init__(self, *, file_path: str | None = None, **kwargs):
        super().__init__(**kwargs)
        if not file_path:
            raise InvalidMailer("OPTIONS must define 'file_path'.", alias=self.alias)
        self.file_path = Path(file_path).resolve()
        self.file_path.mkdir(parents=True, exist_ok=True)

    def send_messages(self, email_messages) -> int:
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            path = self.file_path / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
            path.write_bytes(message.message().as_bytes())
            sent += 1
        return sent


# --- Resend (production) ----------------------------------------------------------
# anymail's Resend backend puts ``esp_extra`` into the JSON body and
# ``extra_headers`` into the email's own headers; Resend reads an idempotency
# key only from the ``Idempotency-Key`` HTTP header of POST /emails. This
# backend moves ``esp_extra["idempotency_key"]`` there.
IDEMPOTENCY_KEY = "idempotency_key"


class _ResendPayload(ResendPayload):
    def set_esp_extra(self, extra):
        extra = dict(extra)
        key = extra.pop(IDEMPOTENCY_KEY, None)
        if key:
            self.headers["Idempotency-Key"] = str(key)
        if extra:
            super().set_esp_extra(extra)


class ResendEmailBackend(AnymailResendBackend):
    """anymail's Resend backend, plus the ``Idempotency-Key`` HTTP header:
    Resend answers a repeated key (for 24 hours) with the first request's
    result and does not send the email again."""

    def build_message_payload(self, message, defaults):
        return _ResendPayload(message, defaults, self)
