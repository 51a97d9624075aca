"""The FastAPI application behind `privobf serve`: the routes, the page's static files, error answers and
the guards every request passes. Reading uploads is in `uploads`, the work behind the routes in `service`.

Privacy shapes every choice here, because the photos people bring to this page are the ones they worry
about:

* every response forbids caching, sniffing, referrers and framing, and the Content-Security-Policy lets
  the page talk to this server only (no CDN, no analytics, no fonts from elsewhere);
* POSTs from other origins are refused, so a web site open in another tab cannot drive the server;
* static files come from a fixed table read once, so no request path ever reaches the file system.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.requests import ClientDisconnect

from ..obfuscation import OBFUSCATION_MODES
from ..protection import MASK_ONLY
from ..scanning import Scanner
from .service import PrivacyService, parse_obfuscate_request
from .uploads import UploadCache, WebError, read_limited, read_upload, sanitise_file_name

log = logging.getLogger(__name__)

JSON_BODY_LIMIT = 64 * 1024
DISCONNECTED = "privobf serve: the client disconnected before sending all of %s %s (a closed tab?); nothing was kept"
TEXT_NOTE = "Text (names, addresses, plates, documents) is always filled solid: blurred text can be read back."

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' blob: data:",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
STATIC_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


def create_app(
    scanner: Scanner,
    *,
    max_upload_bytes: int = 25_000_000,
    max_pixels: int = 40_000_000,
    cache_entries: int = 16,
    cache_bytes: int = 2_000_000_000,
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The web page and its API around one `Scanner`.

    allowed_hosts: Host header names accepted (None: any). `privobf serve` passes the loopback names when
    it listens on loopback, so a DNS-rebinding page cannot reach the server under a name of its own.
    """
    if max_upload_bytes < 1 or max_pixels < 1:
        raise ValueError("max_upload_bytes and max_pixels must be positive")
    service = PrivacyService(scanner, max_pixels, UploadCache(cache_entries, cache_bytes))
    # No /docs: FastAPI's documentation pages load their scripts from a CDN.
    app = FastAPI(title="privobf", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    _add_guards(app, allowed_hosts)
    _add_error_handlers(app)
    _add_static_routes(app, _static_files())
    _add_api_routes(app, service, max_upload_bytes, max_pixels)
    return app


def _static_files() -> dict[str, bytes]:
    """The page's three files, read once: a fixed table, so no request path ever reaches the file system."""
    folder = resources.files("privobf.web").joinpath("static")
    return {name: folder.joinpath(name).read_bytes() for name in STATIC_TYPES}


def _add_static_routes(app: FastAPI, files: dict[str, bytes]) -> None:
    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return HTMLResponse(files["index.html"])

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in files:
            raise WebError(404, f"no such file: {sanitise_file_name(name)}")
        return Response(files[name], media_type=STATIC_TYPES[name])


def _add_api_routes(app: FastAPI, service: PrivacyService, max_upload_bytes: int, max_pixels: int) -> None:
    @app.get("/api/limits")
    def limits() -> dict[str, Any]:
        """What the page checks before uploading, and the choices it offers."""
        return {
            "max_upload_bytes": max_upload_bytes,
            "max_pixels": max_pixels,
            "modes": sorted(OBFUSCATION_MODES) + [MASK_ONLY],
            "text_note": TEXT_NOTE,
        }

    @app.post("/api/scan")
    async def scan(request: Request) -> JSONResponse:
        raw_name, data = await read_upload(request, max_upload_bytes)
        summary = await run_in_threadpool(service.scan, sanitise_file_name(raw_name), data)
        return JSONResponse(summary)

    @app.get("/api/overlay/{token}")
    def overlay(token: str, attributes: str | None = None, format: str = "png") -> Response:
        return service.overlay(token, attributes, format)

    @app.post("/api/obfuscate")
    async def obfuscate(request: Request) -> Response:
        options = parse_obfuscate_request(await read_limited(request, JSON_BODY_LIMIT))
        return await run_in_threadpool(service.obfuscate, options)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WebError)
    async def web_error(request: Request, error: WebError) -> JSONResponse:
        return JSONResponse({"error": error.message}, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())) or "request"
        return JSONResponse({"error": f"invalid request: {where}: {first.get('msg', 'invalid value')}"}, status_code=400)


def _add_guards(app: FastAPI, allowed_hosts: Sequence[str] | None) -> None:
    """Security headers on every response; cross-site POSTs and unexpected Host names refused."""
    hosts = None if allowed_hosts is None else {host.strip("[]").lower() for host in allowed_hosts}

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable) -> Response:
        refusal = _refusal(request, hosts)
        if refusal is not None:
            response: Response = JSONResponse({"error": refusal}, status_code=403)
        else:
            try:
                response = await call_next(request)
            except ClientDisconnect:  # a closed tab mid-upload: normal, and the partial bytes are dropped
                log.warning(DISCONNECTED, request.method, request.url.path)
                response = JSONResponse({"error": "the client disconnected during the request"}, status_code=400)
            except Exception:  # noqa: BLE001 - the user gets one line, the terminal the traceback
                log.exception("privobf serve: request failed")
                message = "internal error while handling this request; see the server's terminal"
                response = JSONResponse({"error": message}, status_code=500)
        response.headers.update(SECURITY_HEADERS)
        return response


def _refusal(request: Request, hosts: set[str] | None) -> str | None:
    """Why a request must not be served, or None."""
    if hosts is not None:
        hostname = (urlsplit("//" + request.headers.get("host", "")).hostname or "").lower()
        if hostname not in hosts:
            return "unexpected Host header: open the page at the address privobf serve printed"
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return "cross-site request refused: use the page served by privobf serve"
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return "cross-site request refused: use the page served by privobf serve"
    return None
