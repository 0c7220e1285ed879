#!/usr/bin/env bash
# Reproduces the Django / blinker column of docs/PERFORMANCE.md: per-send cost of Django's
# `Signal.send` / `send_robust` / `asend` and blinker's `Signal.send` with N trivial
# receivers, in CPython (timeit, 9 repeats, median). The Python twin of bench-compare's probe.
#
# Needs python3 and PyPI (it installs Django and blinker into a throw-away virtualenv).
# Not run in CI.
#
# Usage: bench-compare/django_probe.sh            (venv in ${VENV:-/tmp/signals-django-venv})
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${VENV:-/tmp/signals-django-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet django blinker
exec "$venv/bin/python" "$here/django_probe.py"
