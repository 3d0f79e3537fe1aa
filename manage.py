#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtexchange.settings")
    from django.core.management import execute_from_command_line

    from dtexchange.embedded import EmbeddedServersNotRunning

    try:
        execute_from_command_line(sys.argv)
    except EmbeddedServersNotRunning as exc:
        # No traceback: the message says what to do (start `make run`).
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
