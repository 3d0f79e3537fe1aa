import json
from pathlib import Path

import structlog
from django.core.management.base import BaseCommand, CommandError

from operations.backup import BackupError, backup_create, backup_manifest, manifest_path
from operations.pgtools import ToolNotFound

log = structlog.get_logger(__name__)


class Command(BaseCommand):
    help = (
        "Dump the database (pg_dump of the server's own major version, custom format) to "
        "--out FILE, with FILE.manifest.json beside it (time, migrations, ledger totals per "
        "currency, audit chain head)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, help="the dump file to write")
        parser.add_argument(
            "--manifest-only",
            action="store_true",
            help="print the database's manifest as JSON and write nothing",
        )

    def handle(self, *args, out: Path | None = None, manifest_only: bool = False, **options):
        if manifest_only:
            self.stdout.write(json.dumps(backup_manifest(), sort_keys=True))
            return
        if out is None:
            raise CommandError("--out FILE is required.")
        try:
            manifest = backup_create(out=out)
        except (BackupError, ToolNotFound) as exc:
            raise CommandError(str(exc)) from None
        head = manifest["audit_head"]
        log.info(
            "backup.created",
            file=str(out),
            bytes=manifest["dump"]["bytes"],
            sha256=manifest["dump"]["sha256"],
            audit_seq=head["seq"],
            audit_hash=head["hash"],
        )
        self.stdout.write(
            f"Backup written: {out} ({manifest['dump']['bytes']} bytes) and "
            f"{manifest_path(out).name}; audit chain head #{head['seq']} {head['hash']}"
        )
