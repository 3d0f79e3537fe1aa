"""A locmem email backend that takes its time, so two senders racing for the
same delivery overlap for real."""

import time

from django.core.mail.backends.locmem import EmailBackend


class SlowLocmemBackend(EmailBackend):
    def send_messages(self, messages):
        time.sleep(0.3)
        return super().send_messages(messages)
