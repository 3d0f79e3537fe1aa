#!/usr/bin/env bash
# Prints the path of a Python >= 3.12 that actually runs, or nothing.
ok() { "$@" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
for candidate in python3.13 python3.12 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && ok "$candidate"; then
    "$candidate" -c 'import sys; print(sys.executable)'; exit 0
  fi
done
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for v in $(ls -1 "$root/versions" 2>/dev/null | grep -E '^3\.1[2-9]\.' | sort -rV); do
    bin="$root/versions/$v/bin/python3"
    if [ -x "$bin" ] && ok "$bin"; then echo "$bin"; exit 0; fi
  done
fi
exit 0
