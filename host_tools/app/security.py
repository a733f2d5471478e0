"""The app's gate: it serves patient data, so every request must carry the one-time token
`dowel app` printed (in the address on the first visit, then in a cookie), be addressed to the
loopback address the app listens on (no DNS-rebinding host), and, when it changes anything,
come from the app's own pages (its Origin). Every answer carries headers that keep it out of
other sites' frames and scripts; there is no CORS header, so no other origin may read it.

    app = Guard(starlette_app, token, port)

The token is compared in constant time and never logged: the query string that carries it is
answered with a redirect to the same path without it, so it leaves the address bar at once.
The cookie holds a session secret of its own, not the token: browsers send a localhost cookie
to every port of the machine, so another local server may see it, and it must not be the key
`dowel app` printed. For the same reason a request that the browser says came from another
site or another local port (Sec-Fetch-Site) is refused, whatever it asks. The address handed to
the browser at start (whose command line other users of the machine can read) carries a token
that works once (`one_time()`).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
SECURITY_HEADERS = [
    # Scripts only from the app itself (no inline script); inline styles stay allowed for the
    # report's SVG plots, whose elements carry style attributes.
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        b"form-action 'self'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make form posts send Origin: null
    (b"cache-control", b"no-store"),  # patient data stays out of the browser's disk cache
]


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_name(port: int) -> str:
    # Cookies ignore the port: two apps on one machine must not overwrite each other's.
    return f"dowel_app_{port}"


def _same(value: str | None, secret: str) -> bool:
    return value is not None and secrets.compare_digest(value.encode(), secret.encode())


class Guard:
    def __init__(self, app, token: str, port: int):
        self.app = app
        self.token = token
        self.port = port
        self.session = secrets.token_urlsafe(32)  # the cookie's value
        self._once: set[str] = set()
        self.hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES}
        self.origins = {f"http://{host}" for host in self.hosts}

    def one_time(self) -> str:
        """A token that lets one first visit in, then no more."""
        once = secrets.token_urlsafe(24)
        self._once.add(once)
        return once

    def _entry(self, value: str) -> bool:
        """Is `value` the printed token, or a one-time one (used up now)?"""
        if _same(value, self.token):
            return True
        match = next((once for once in self._once if _same(value, once)), None)
        if match is None:
            return False
        self._once.discard(match)
        return True

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = self.refusal(request)
        if response is not None:
            await self._with_headers(response)(scope, receive, send)
            return
        await self._with_headers(self.app)(scope, receive, send)

    def refusal(self, request: Request) -> Response | None:
        """The answer to a request that may not pass, or None to let it through."""
        if request.headers.get("host") not in self.hosts:
            return PlainTextResponse(
                f"refused: open the app at http://127.0.0.1:{self.port}/", status_code=421
            )
        if request.headers.get("sec-fetch-site") in ("same-site", "cross-site"):
            # SameSite ignores ports: a page another local server serves is "same-site" and
            # its requests would carry our cookie. Only our own pages, or the address typed
            # or opened (Sec-Fetch-Site "none"), may reach the app.
            return PlainTextResponse(
                "refused: this request came from another web page, not the app's own. Open "
                f"the app at http://127.0.0.1:{self.port}/ and use its buttons.",
                status_code=403,
            )
        query_token = request.query_params.get("token")
        if query_token is not None and request.method in SAFE_METHODS and self._entry(query_token):
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            # One leading slash: "//host/x" would be another site's address to the browser.
            target = "/" + request.url.path.lstrip("/") + ("?" + urlencode(rest) if rest else "")
            redirect = RedirectResponse(target, status_code=303)
            redirect.set_cookie(
                cookie_name(self.port),
                self.session,
                httponly=True,
                samesite="strict",
                path="/",
            )
            return redirect
        if not _same(request.cookies.get(cookie_name(self.port)), self.session):
            return PlainTextResponse(
                "refused: this page needs the address `dowel app` printed, with its token. "
                "Open that address again (or restart `dowel app` for a new one).",
                status_code=403,
            )
        if request.method not in SAFE_METHODS and self._origin(request) not in self.origins:
            return PlainTextResponse(
                "refused: a change must come from the app's own page (its Origin did not "
                "match). Use the app's buttons.",
                status_code=403,
            )
        return None

    @staticmethod
    def _origin(request: Request) -> str | None:
        origin = request.headers.get("origin")
        if origin is not None:
            return origin
        referer = request.headers.get("referer")
        if referer:
            parts = urlsplit(referer)
            return f"{parts.scheme}://{parts.netloc}"
        return None

    @staticmethod
    def _with_headers(app):
        async def wrapped(scope, receive, send):
            async def send_with_headers(message):
                if message["type"] == "http.response.start":
                    message.setdefault("headers", [])
                    message["headers"] = list(message["headers"]) + SECURITY_HEADERS
                await send(message)

            await app(scope, receive, send_with_headers)

        return wrapped
