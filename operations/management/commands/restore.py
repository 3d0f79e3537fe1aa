from pathlib import Path

import structlog
from django.core.management.base import BaseCommand, CommandError

from operations.backup import BackupError, restore_run
from operations.pgtools import ToolNotFound

log = structlog.get_logger(__name__)


class Command(BaseCommand):
    help = (
        "Restore a backup FILE (and FILE.manifest.json) into the EMPTY database at "
        "--database-url, then run reconcile_ledger and audit_verify on it and compare it "
        "with the manifest. Exit 1 on any problem; a database that is not empty is refused "
        "before anything is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--database-url", required=True, help="postgres://... (empty)")

    def handle(self, *args, file: Path, database_url: str, **options):
        try:
            report = restore_run(dump=file, database_url=database_url)
        except (BackupError, ToolNotFound) as exc:
            raise CommandError(str(exc)) from None
        for step in report.steps:
            self.stdout.write(f"ok  {step}")
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(f"!!  {problem}")
            log.error("backup.restore_failed", file=str(file), problems=report.problems)
            raise CommandError(f"Restore check failed: {len(report.problems)} problem(s).")
        log.info("backup.restored", file=str(file))
        self.stdout.write("Restore complete: the ledger reconciles, the audit chain verifies.")
