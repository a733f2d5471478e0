#!/usr/bin/env bash
# The whole test suite: ruff format and check, firmware compile + type-check, then pytest
# (CPython, MicroPython interpreter, the real mpremote against the virtual board). Run through
# `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# Style first: the formatter's and the linter's verdicts, over host, firmware, tests and bench.
"$BIN/ruff" format --check --quiet . || { echo "test.sh: run \`.venv/bin/ruff format .\`" >&2; exit 1; }
"$BIN/ruff" check --quiet .
"$BIN/python" -m host_tools.firmware.check
# The browser tests (the report's layout, the app end to end through Playwright) need Debian's
# chromium, installed here when missing and running as root (CI); elsewhere they skip and say so.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
        >/dev/null || echo "test.sh: could not install chromium; the browser tests will skip" >&2
fi
"$BIN/python" -m pytest "$@"
