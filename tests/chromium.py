"""Debian's Chromium for the browser tests: where it is, the flags it needs here, and the
reason a test skips without it (scripts/test.sh installs it when running as root, as in CI)."""

from __future__ import annotations

import shutil

CHROMIUM = next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p),
    None,
)
MISSING = "no chromium: apt-get install chromium (scripts/test.sh does as root)"
# The machine's network is closed: without these Chromium's background fetches are refused
# many at a time. --no-sandbox: CI runs the tests as root.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
