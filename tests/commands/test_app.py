"""`dowel app` as a PT starts it: the real command in its own process prints one address with
a token, serves the page to that address only, refuses a taken --port in one line, and stops
on Ctrl-C (SIGINT) without a traceback."""

from __future__ import annotations

import http.cookiejar
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

DOWEL = str(Path(sys.executable).with_name("dowel"))


def start(tmp_path, *args: str) -> tuple[subprocess.Popen, str]:
    out = tmp_path / "app.out"
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [DOWEL, "app", "--no-browser", *args], stdout=sink, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(rb"http://127\.0\.0\.1:\d+/\?token=\S+", out.read_bytes())
        if found:
            return proc, found.group(0).decode()
        assert proc.poll() is None, out.read_text()
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("no address printed: " + out.read_text())


def test_serves_the_token_holder_and_stops_on_ctrl_c(tmp_path, monkeypatch):
    monkeypatch.setenv("DOWEL_HOME", str(tmp_path / "home"))
    proc, url = start(tmp_path)
    try:
        base = url.split("?")[0]
        try:
            urllib.request.urlopen(base, timeout=10)
            raise AssertionError("served without the token")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = browser.open(url, timeout=10)
        assert page.status == 200 and page.url == base  # redirected, the token in a cookie
        assert b"<h1>Patients</h1>" in page.read()

        port = base.rsplit(":", 1)[1].strip("/")
        taken = subprocess.run(
            [DOWEL, "app", "--no-browser", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert taken.returncode != 0
        assert taken.stderr.strip() == (
            f"dowel: port {port} is in use (another `dowel app`?): give another --port, or "
            "leave it out for a free one"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(15)
    text = (tmp_path / "app.out").read_text()
    assert code == 0 and "Traceback" not in text, text
