"""The alert check outside Celery: run it from a timer (cron, a systemd
timer) every few minutes as the watchdog that notices beat falling silent."""

from django.core.management.base import BaseCommand

from operations.alerts import alerts_check


class Command(BaseCommand):
    help = "Open, repeat and resolve alerts now (the watchdog run beside beat)."

    def handle(self, *args, **options):
        report = alerts_check()
        for label, keys in (
            ("opened", report.opened),
            ("repeated", report.repeated),
            ("resolved", report.resolved),
        ):
            for key in keys:
                self.stdout.write(f"{label}: {key}")
