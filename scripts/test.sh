#!/usr/bin/env bash
# The whole test suite: firmware compile + type-check, then pytest (CPython, MicroPython
# interpreter, the real mpremote against the virtual board). Run through `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
"$BIN/python" -m host_tools.firmware_check
"$BIN/python" -m pytest "$@"
