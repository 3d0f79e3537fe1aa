"""Backup and restore of the whole database, checked end to end.

``backup_create`` runs pg_dump (the server's own major version, custom
format) inside a REPEATABLE READ transaction whose snapshot it hands to
pg_dump, and writes a manifest from the same snapshot: when it was taken,
the migrations applied, the ledger's totals per currency and kind, and the
audit chain head. The dump and its manifest therefore describe exactly the
same moment, whatever is written meanwhile.

``restore_run`` refuses a target database that is not empty (before
writing anything), checks the dump against the manifest's digest, restores
it with pg_restore in one transaction, then runs ``reconcile_ledger`` and
``audit_verify --expect <head>`` against the restored database and compares
its manifest with the backup's.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import environ
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Count, Sum
from django.utils import timezone

from audit.selectors import audit_chain_head
from ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from operations.pgtools import pg_env, pg_tool, server_major

MANIFEST_SUFFIX = ".manifest.json"
# What must be equal between a backup's manifest and the restored database's.
COMPARED = ("migrations", "ledger", "counts", "audit_head")


class BackupError(Exception):
    pass


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


def backup_manifest() -> dict:
    """The database's state as a manifest (no ``dump`` part): read in the
    caller's transaction, so inside ``backup_create`` it is the dump's snapshot."""
    with connection.cursor() as cursor:
        major = server_major(cursor)
    applied = sorted(
        f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations()
    )
    ledger: dict[str, dict[str, str]] = {}
    rows = (
        LedgerAccount.objects.values("currency", "kind")
        .annotate(total=Sum("balance"), accounts=Count("id"))
        .order_by("currency", "kind")
    )
    for row in rows:
        ledger.setdefault(row["currency"], {})[row["kind"]] = format(row["total"].normalize(), "f")
    seq, digest = audit_chain_head()
    return {
        "format": 1,
        "taken_at": timezone.now().isoformat(),
        "database": connection.settings_dict["NAME"],
        "server_major": major,
        "migrations": applied,
        "ledger": ledger,
        "counts": {
            "ledger_accounts": LedgerAccount.objects.count(),
            "ledger_transactions": LedgerTransaction.objects.count(),
            "ledger_entries": LedgerEntry.objects.count(),
        },
        "audit_head": {"seq": seq, "hash": digest},
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_create(*, out: Path) -> dict:
    """Dump the database to ``out`` and its manifest beside it; return the manifest."""
    if connection.vendor != "postgresql":
        raise BackupError("Backups need PostgreSQL (pg_dump).")
    if connection.in_atomic_block:
        raise BackupError("Run a backup outside any transaction.")
    out.parent.mkdir(parents=True, exist_ok=True)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        major = server_major(cursor)
        pg_dump = pg_tool("pg_dump", major)
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        manifest = backup_manifest()
        done = subprocess.run(  # noqa: S603 - the server's own pg_dump, fixed arguments
            [str(pg_dump), "--format=custom", f"--snapshot={snapshot}", f"--file={out}"],
            env={**os.environ, **pg_env(connection.settings_dict)},
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        out.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {done.stderr.strip()[-2000:]}")
    manifest["dump"] = {
        "file": out.name,
        "bytes": out.stat().st_size,
        "sha256": _sha256(out),
        "pg_dump": str(pg_dump),
    }
    manifest_path(out).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


# --- restore ------------------------------------------------------------------------


@dataclass
class RestoreReport:
    steps: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _target_settings(database_url: str) -> dict:
    config = environ.Env.db_url_config(database_url)
    if not config.get("ENGINE", "").endswith("postgresql"):
        raise BackupError("--database-url must be a postgres:// URL.")
    return config


def _conninfo(db: dict) -> dict:
    info = {"dbname": db["NAME"]}
    for key, name in (
        ("HOST", "host"),
        ("PORT", "port"),
        ("USER", "user"),
        ("PASSWORD", "password"),
    ):
        if db.get(key):
            info[name] = str(db[key])
    return info


def _target_state(db: dict) -> tuple[int, int]:
    """(server major version, number of relations of ours) of the target."""
    with psycopg.connect(**_conninfo(db), autocommit=True) as conn, conn.cursor() as cursor:
        major = server_major(cursor)
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'"
        )
        return major, cursor.fetchone()[0]


def _manage(args: list[str], database_url: str) -> subprocess.CompletedProcess:
    """A management command of this project against the restored database."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
    }
    return subprocess.run(  # noqa: S603 - our interpreter and manage.py
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def restore_run(*, dump: Path, database_url: str) -> RestoreReport:
    """Restore ``dump`` into the empty database at ``database_url`` and check it.
    Raises BackupError (nothing written) when it cannot start."""
    report = RestoreReport()
    manifest_file = manifest_path(dump)
    if not dump.is_file() or not manifest_file.is_file():
        raise BackupError(f"Need both {dump} and its manifest {manifest_file}.")
    manifest = json.loads(manifest_file.read_text())
    if _sha256(dump) != manifest["dump"]["sha256"]:
        raise BackupError(f"{dump} does not match its manifest's digest: damaged or replaced.")
    db = _target_settings(database_url)
    major, relations = _target_state(db)
    if relations:
        raise BackupError(
            f"The database {db['NAME']!r} is not empty ({relations} tables, sequences or "
            "views): restore only into a new, empty database. Nothing was written."
        )
    if major < manifest["server_major"]:
        raise BackupError(
            f"The backup is from PostgreSQL {manifest['server_major']}; the target runs "
            f"{major}. Restore into PostgreSQL {manifest['server_major']} or newer."
        )
    pg_restore = pg_tool("pg_restore", major)
    done = subprocess.run(  # noqa: S603 - the target server's own pg_restore
        [
            str(pg_restore),
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            f"--dbname={db['NAME']}",
            str(dump),
        ],
        env={**os.environ, **pg_env(db)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        report.problems.append(f"pg_restore failed: {done.stderr.strip()[-2000:]}")
        return report
    report.steps.append(f"restored {dump.name} with {pg_restore}")

    head = manifest["audit_head"]
    for name, args in (
        ("reconcile_ledger", ["reconcile_ledger"]),
        ("audit_verify", ["audit_verify", "--expect", f"{head['seq']}:{head['hash']}"]),
    ):
        done = _manage(args, database_url)
        if done.returncode == 0:
            report.steps.append(f"{name}: {done.stdout.strip().splitlines()[0]}")
        else:
            report.problems.append(f"{name} failed: {(done.stderr or done.stdout).strip()[-2000:]}")

    done = _manage(["backup", "--manifest-only"], database_url)
    if done.returncode != 0:
        report.problems.append(f"reading the restored database failed: {done.stderr[-2000:]}")
        return report
    restored = json.loads(done.stdout)
    for key in COMPARED:
        if restored[key] != manifest[key]:
            report.problems.append(
                f"{key} differs from the manifest: backup {manifest[key]!r}, "
                f"restored {restored[key]!r}"
            )
    if report.ok:
        report.steps.append(f"matches the manifest ({', '.join(COMPARED)})")
    return report
