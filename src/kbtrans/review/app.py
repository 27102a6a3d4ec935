"""The review page's web app (Starlette, Jinja2, uvicorn): routes, security, and the server.

Security: the server listens on loopback unless told otherwise; every request needs the per-run token
(in the URL once, then an HttpOnly, SameSite=Strict cookie); every write needs the CSRF token of the
page (a header) and a JSON body; ``Host`` must be one the server was started for (DNS rebinding) and
``Origin``, when sent, the server's own; note paths must name a note of the KB and languages a
configured one; every value is escaped by Jinja2 (autoescape) or written with ``textContent``; the
Content-Security-Policy allows only the package's own script and style.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kbtrans import check
from kbtrans.catalog import EntryState
from kbtrans.errors import CatalogConflict, KbtransError
from kbtrans.review.data import PAGE_SIZE, STATUSES, EntryView, Review, ReviewError

COOKIE = "kbtrans_review"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_SAFE_METHODS = ("GET", "HEAD")


@dataclass(frozen=True)
class Security:
    """What every request is checked against."""

    token: str
    """The per-run token of the URL."""
    csrf: str
    """The token every write must carry (``X-CSRF-Token``)."""
    hosts: frozenset[str]
    """Accepted ``Host`` headers (``host:port``); empty accepts any (``--host 0.0.0.0``)."""

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{h}" for h in self.hosts)


def security(port: int, host: str = "127.0.0.1") -> Security:
    """Fresh tokens for a server on ``host:port``."""
    wildcard = host in ("0.0.0.0", "::", "")
    names = set() if wildcard else {*LOOPBACK, f"[{host}]" if ":" in host else host}
    return Security(secrets.token_urlsafe(24), secrets.token_urlsafe(24), frozenset(f"{n}:{port}" for n in names))


def _finding(f: check.Finding) -> dict[str, str]:
    return {"severity": f.severity, "code": f.code, "message": f.message, "hint": f.hint}


def entry_json(e: EntryView) -> dict[str, Any]:
    """What the page's script knows of an entry."""
    s = e.state
    return {
        "index": e.index, "msgid": s.msgid, "msgctxt": s.msgctxt, "msgstr": s.msgstr, "fuzzy": s.fuzzy,
        "tcomment": s.tcomment, "version": e.version, "category": e.category, "machine": e.machine,
        "findings": [_finding(f) for f in e.findings], "placeables": [dataclasses.asdict(p) for p in e.placeables],
        "source_placeables": [dataclasses.asdict(p) for p in e.source_placeables],
    }


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("kbtrans.review", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.globals["statuses"] = STATUSES
    return env


def create_app(review: Review, sec: Security) -> Starlette:
    """The ASGI app of one review session."""
    env = _templates()

    def page(name: str, request: Request, status_code: int = 200, **values: Any) -> HTMLResponse:
        html = env.get_template(name).render(csrf=sec.csrf, languages=review.languages, **values)
        return HTMLResponse(html, status_code=status_code)

    def error_page(request: Request, exc: KbtransError, status: int) -> Response:
        if request.method == "GET":
            return page("error.html", request, status_code=status, message=str(exc), status=status)
        return JSONResponse({"error": str(exc)}, status_code=status)

    async def notes(request: Request) -> Response:
        q = request.query_params
        lang, status, folder, query = q.get("lang", ""), q.get("status", ""), q.get("folder", ""), q.get("q", "")
        errors = q.get("errors") == "1"
        try:
            number = int(q.get("page", "1"))
        except ValueError:
            raise ReviewError(f"page must be a number, not {q.get('page')!r}.") from None
        review.start_background()
        listing = review.notes_list(lang=lang, status=status, folder=folder, has_errors=errors, query=query,
                                    page=number)
        filters = {k: v for k, v in (("lang", lang), ("status", status), ("folder", folder),
                                     ("errors", "1" if errors else ""), ("q", query)) if v}

        def page_url(n: int) -> str:
            return "/?" + urlencode({**filters, "page": str(n)})

        return page("notes.html", request, listing=listing, rows=listing.rows, folders=listing.folders, lang=lang,
                    status=status, folder=folder, errors=errors, query=query, note_url=_note_url,
                    page_url=page_url, page_size=PAGE_SIZE, background_error=review.background_error)

    async def note(request: Request) -> Response:
        view = review.note_view(request.query_params.get("path", ""), request.query_params.get("lang", ""))
        data = {"note": view.note, "lang": view.lang, "hash": view.hash,
                "entries": [entry_json(e) for e in view.entries],
                "next": _note_url(view.next_note, view.lang) if view.next_note else None,
                "prev": _note_url(view.prev_note, view.lang) if view.prev_note else None}
        return page("note.html", request, view=view, data=data, note_url=_note_url)

    async def preview(request: Request) -> Response:
        text, warnings = review.preview(request.query_params.get("path", ""), request.query_params.get("lang", ""))
        return JSONResponse({"text": text, "warnings": warnings})

    async def body(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body())
        except ValueError:
            raise ReviewError("the request body is not JSON.") from None
        if not isinstance(data, dict):
            raise ReviewError("the request body must be a JSON object.")
        return data

    def text_field(data: dict[str, Any], key: str, *, optional: bool = False) -> Any:
        value = data.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise ReviewError(f"{key!r} must be a string.")
        return value

    async def live(request: Request) -> Response:
        data = await body(request)
        found, places = review.live_check(text_field(data, "path"), text_field(data, "lang"),
                                          text_field(data, "msgid"), text_field(data, "msgstr"))
        return JSONResponse({"findings": [_finding(f) for f in found],
                             "placeables": [dataclasses.asdict(p) for p in places]})

    async def entry(request: Request) -> Response:
        data = await body(request)
        try:
            digest, written = review.act(text_field(data, "path"), text_field(data, "lang"),
                                         action=text_field(data, "action"), msgid=text_field(data, "msgid"),
                                         msgctxt=text_field(data, "msgctxt", optional=True),
                                         expect=text_field(data, "version"), text=text_field(data, "text"))
        except CatalogConflict as exc:
            current = exc.current
            theirs = None
            if isinstance(current, EntryState):
                from kbtrans.review.data import version

                theirs = {"msgstr": current.msgstr, "fuzzy": current.fuzzy, "tcomment": current.tcomment,
                          "version": version(current)}
            return JSONResponse({"error": str(exc), "conflict": True, "theirs": theirs,
                                 "yours": data.get("text")}, status_code=409)
        except ReviewError as exc:
            return JSONResponse({"error": str(exc), "findings": [_finding(f) for f in exc.findings]},
                                status_code=exc.status)
        out = entry_json(written)
        out["index"] = data.get("index")
        return JSONResponse({"hash": digest, "entry": out})

    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except ReviewError as exc:
                return error_page(request, exc, exc.status)
            except KbtransError as exc:
                return error_page(request, exc, 422)
        return run

    routes = [
        Route("/", guarded(notes)),
        Route("/note", guarded(note)),
        Route("/api/preview", guarded(preview)),
        Route("/api/check", guarded(live), methods=["POST"]),
        Route("/api/entry", guarded(entry), methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("kbtrans.review", "static")]), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(_Guard, sec=sec)
    return app


def _note_url(path: str | None, lang: str) -> str:
    return "/note?" + urlencode({"path": path or "", "lang": lang})


def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


class _Guard:
    """ASGI middleware: Host, Origin, token and CSRF checks before any route; security headers after."""

    def __init__(self, app: Any, sec: Security) -> None:
        self.app, self.sec = app, sec

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        refused = self._refuse(request)
        if refused is not None:
            await _headers(refused)(scope, receive, send)
            return
        token = request.query_params.get("token")
        if token is not None and request.method == "GET":
            # the token of the printed URL becomes a cookie; the address bar loses it
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + ("?" + urlencode(rest) if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, self.sec.token, httponly=True, samesite="strict", path="/")
            await _headers(response)(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                probe = Response()
                _headers(probe)
                headers += [(k, v) for k, v in probe.raw_headers if k not in (b"content-length", b"content-type")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refuse(self, request: Request) -> Response | None:
        sec = self.sec
        host = request.headers.get("host", "")
        if sec.hosts and host not in sec.hosts:
            return PlainTextResponse(f"kbtrans review: Host {host!r} is not this server's address; open the URL "
                                     "printed by `kbtrans review`.", status_code=421)
        origin = request.headers.get("origin")
        if origin is not None and sec.hosts and origin not in sec.origins:
            return PlainTextResponse("kbtrans review: requests from another origin are refused.", status_code=403)
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return PlainTextResponse("kbtrans review: cross-site requests are refused.", status_code=403)
        given = request.query_params.get("token") or request.cookies.get(COOKIE) or ""
        if not hmac.compare_digest(given.encode(), sec.token.encode()):
            return PlainTextResponse("kbtrans review: a valid token is needed. Open the URL printed by "
                                     "`kbtrans review` (it ends with ?token=…).", status_code=403)
        if request.method not in _SAFE_METHODS:
            csrf = request.headers.get("x-csrf-token", "")
            if not hmac.compare_digest(csrf.encode(), sec.csrf.encode()):
                return PlainTextResponse("kbtrans review: missing or wrong CSRF token.", status_code=403)
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return PlainTextResponse("kbtrans review: writes must be JSON.", status_code=415)
        return None


# -- the server -------------------------------------------------------------------------------------

class Server:
    """A uvicorn server for one review session, on a socket bound before it starts (a free port when 0)."""

    def __init__(self, review: Review, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
        except OSError as exc:
            self.socket.close()
            raise KbtransError(f"cannot listen on {host}:{port} ({exc.strerror}). Choose another --port "
                               "(or leave it out for a free one).") from None
        self.host, self.port = host, self.socket.getsockname()[1]
        self.security = security(self.port, host)
        self.review = review
        review.warm()
        review.start_background()
        self.app = create_app(review, self.security)
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False,
                                                    lifespan="off"))
        self._thread: threading.Thread | None = None

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the server."""
        return is_loopback(self.host)

    @property
    def url(self) -> str:
        """The address to open, with the token."""
        name = "127.0.0.1" if self.host in ("0.0.0.0", "") else f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{name}:{self.port}/?token={self.security.token}"

    def run(self) -> None:
        """Serve until Ctrl-C."""
        self.server.run(sockets=[self.socket])

    def start(self) -> None:
        """Serve in a background thread (tests, benchmarks)."""
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        import time

        while not self.server.started:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self.socket.close()


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


__all__: Sequence[str] = ("Security", "Server", "create_app", "entry_json", "is_loopback", "security")
