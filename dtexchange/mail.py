"""Email for the embedded default: one ``.eml`` file per message in a folder."""

import uuid
from datetime import UTC, datetime
from pathlib import Path

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
