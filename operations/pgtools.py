"""The PostgreSQL client programs (pg_dump, pg_restore) of a server's own
major version: a dump taken by an older pg_dump can miss what a newer server
has, and an older pg_restore cannot read a newer archive."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from django.conf import settings

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


class ToolNotFound(Exception):
    pass


def server_major(cursor) -> int:
    cursor.execute("SELECT current_setting('server_version_num')::int")
    return cursor.fetchone()[0] // 10000


def _candidate_dirs(major: int) -> list[Path]:
    dirs = []
    if settings.PG_BIN_DIR:
        dirs.append(Path(settings.PG_BIN_DIR))
    dirs.append(Path(f"/usr/lib/postgresql/{major}/bin"))
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    return list(dict.fromkeys(dirs))


def tool_major(path: Path) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603 - a PostgreSQL program, fixed argument
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError:
        return None
    match = _VERSION.search(out)
    return int(match.group(1)) if match else None


def pg_tool(name: str, major: int) -> Path:
    """``name`` (pg_dump, pg_restore) of PostgreSQL ``major``, or ToolNotFound
    saying where it looked and what it found."""
    seen = []
    for folder in _candidate_dirs(major):
        path = folder / name
        if not path.exists():
            continue
        found = tool_major(path)
        if found == major:
            return path
        seen.append(f"{path} is PostgreSQL {found}")
    where = ", ".join(str(d) for d in _candidate_dirs(major))
    raise ToolNotFound(
        f"No {name} of PostgreSQL {major} (the server's version) found; looked in {where}"
        + (f" ({'; '.join(seen)})" if seen else "")
        + f". Install the PostgreSQL {major} client programs, or set PG_BIN_DIR to their folder."
    )


def pg_env(db: dict) -> dict[str, str]:
    """libpq's environment for a Django database settings dict."""
    env = {"PGDATABASE": str(db["NAME"])}
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER")):
        if db.get(key):
            env[var] = str(db[key])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env
