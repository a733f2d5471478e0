"""`dowel app [--port N] [--no-browser]`: the PT's app, a local web page on the host library.

It listens on 127.0.0.1 only, on a free port (or --port), and prints the address with a
one-time token; the browser opens on it. Ctrl-C stops it (and a virtual board it started).
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys

from host_tools.errors import UsageError

HELP = "the PT's app in the browser: patients, the dowel, calibration, logs, reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        metavar="N",
        help="the web page's port on 127.0.0.1 (default: a free one)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="print the address, do not open a browser"
    )


def listen(port: int) -> socket.socket:
    """A loopback socket on `port` (0: a free one), refused in one line when taken."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: give a port from 1024 to 65535, or leave it out")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} is in use (another `dowel app`?): give another --port, or leave "
                "it out for a free one"
            ) from None
        raise UsageError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror})") from None
    sock.listen(64)
    return sock


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from host_tools.app.security import new_token
    from host_tools.app.server import AppState, create_app

    sock = listen(args.port)
    port = sock.getsockname()[1]
    state = AppState(new_token(), port, log=lambda text: print(text, file=sys.stderr))
    app = create_app(state)
    base = f"http://127.0.0.1:{port}/"
    print(
        f"The dowel app is at {base}?token={state.token}\n"
        "(open it in the browser on this computer; Ctrl-C stops)"
    )
    sys.stdout.flush()
    if not args.no_browser:
        import webbrowser

        # The browser's command line is readable by every user of this computer: it gets a
        # token that works once, which the browser has used up by the time anyone reads it.
        webbrowser.open(f"{base}?token={app.one_time()}")
    # No access log: the first request's address carries the token.
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=2
    )
    try:
        _server(config, state).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # Ctrl-C is how the app is meant to stop (uvicorn re-raises it once shut down)
    finally:
        sock.close()
        if state.vboard is not None:
            state.vboard.stop()
    print("The dowel app stopped.")
    return 0


def _server(config, state):
    """uvicorn's server, which at Ctrl-C first ends the app's jobs and event streams: uvicorn
    waits for open connections before it stops, and a job page's stream stays open."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            state.close()
            super().handle_exit(sig, frame)

    return Server(config)
