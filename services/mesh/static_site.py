"""The edge's static pages: the OpenAPI document (`/openapi.json`) and its interactive reference
(`/docs`, Swagger UI from the swagger-ui-dist package, served from here, no CDN), and the web
console (services/mesh/console_site.py) on every other GET path outside the API.

A small HTTP/1.1 server on loopback that Envoy routes a few public paths to. It serves a fixed
table of files, built at start: a request names one of them exactly or gets 404, so no path
the client sends ever reaches the file system. Answers carry an ETag (304 on If-None-Match)
and a Cache-Control of their own (public with a short max-age unless the page says otherwise).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = REPO_ROOT / "gen" / "openapi" / "tenantmesh.openapi.json"
SWAGGER_UI_DIR = REPO_ROOT / "node_modules" / "swagger-ui-dist"
# How long browsers and caches may keep a page without asking again (they revalidate with the ETag).
MAX_AGE_SECONDS = 300
# The reference page runs only its own scripts; Swagger UI sets inline styles.
DOCS_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"

_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Tenantmesh API reference</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
"""
# Separate file, not inline: the page's CSP allows no inline script.
_DOCS_INIT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
"""


@dataclass(frozen=True)
class Page:
    body: bytes
    content_type: str
    etag: str
    csp: str = ""
    cache_control: str = f"public, max-age={MAX_AGE_SECONDS}"

    @classmethod
    def of(cls, body: bytes, content_type: str, csp: str = "", cache_control: str = "") -> Page:
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        if cache_control:
            return cls(body, content_type, etag, csp, cache_control)
        return cls(body, content_type, etag, csp)


def docs_pages(openapi: Path = OPENAPI_PATH, swagger_ui: Path = SWAGGER_UI_DIR) -> dict[str, Page]:
    """`/openapi.json` and, when Swagger UI is installed (the repository's npm packages), the
    `/docs` reference. A missing or broken document is an error (`make gen` makes it)."""
    document = openapi.read_bytes()
    json.loads(document)  # a broken document is a startup error, not a blank page
    pages = {"/openapi.json": Page.of(document, "application/json")}
    if not (swagger_ui / "swagger-ui-bundle.js").is_file():
        return pages
    pages |= {
        "/docs": Page.of(_DOCS_PAGE.encode(), "text/html; charset=utf-8", DOCS_CSP),
        "/docs/init.js": Page.of(_DOCS_INIT.encode(), "text/javascript; charset=utf-8"),
    }
    for name, content_type in (
        ("swagger-ui.css", "text/css; charset=utf-8"),
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        ("favicon-32x32.png", "image/png"),
    ):
        pages[f"/docs/{name}"] = Page.of((swagger_ui / name).read_bytes(), content_type)
    pages["/docs/"] = pages["/docs"]
    return pages


@dataclass(frozen=True)
class StaticSite:
    """Where the edge finds the static server, and which request paths it routes there."""

    host: str
    port: int
    # Exact paths and path prefixes, all public (no token) and GET/HEAD only.
    paths: tuple[str, ...] = ("/openapi.json", "/docs")
    prefixes: tuple[str, ...] = ("/docs/",)
    cluster: str = "_static"  # upstream names cannot start with "_": never collides with one
    # The web console: every other GET/HEAD path, except these API prefixes, is routed here
    # (after the API's own routes), public, not transcoded.
    console: bool = False
    api_prefixes: tuple[str, ...] = ("/v1/", "/.well-known/")


# The page served, with status 404, for a path the table does not hold (the console's).
NOT_FOUND_KEY = "\0not-found"


@dataclass(frozen=True)
class StaticFile:
    """A page Envoy answers itself (direct_response from a file), in deployments that run no
    static server next to it (services/mesh/render.py)."""

    path: str
    filename: str
    content_type: str
    etag: str
    csp: str


def write_static_files(pages: Mapping[str, Page], directory: Path) -> list[StaticFile]:
    """Writes each page's body into ``directory`` (one file per distinct body, named by its hash)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for path, page in sorted(pages.items()):
        if not path.startswith("/"):
            continue  # a table entry that is not a request path (the console's not-found page)
        target = directory / page.etag.strip('"')
        if not target.is_file():
            target.write_bytes(page.body)
            target.chmod(0o644)
        files.append(StaticFile(path, str(target.resolve()), page.content_type, page.etag, page.csp))
    return files


def largest_page(pages: Mapping[str, Page]) -> int:
    return max((len(page.body) for page in pages.values()), default=0)


class _Handler(BaseHTTPRequestHandler):
    pages: Mapping[str, Page] = {}
    server_version = "tenantmesh-static"
    sys_version = ""
    # Keep-alive: Envoy reuses its connections instead of opening one per request (a page load
    # asks for a few dozen files at once). Every answer carries a Content-Length.
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, *, head: bool) -> None:
        if self.headers.get("Content-Length", "0") != "0" or self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # a body nobody reads must not be taken for the next request
        page = self.pages.get(self.path.split("?", 1)[0])
        status = HTTPStatus.OK
        if page is None:
            page = self.pages.get(NOT_FOUND_KEY)
            status = HTTPStatus.NOT_FOUND
            if page is None:
                self._plain(HTTPStatus.NOT_FOUND, head)
                return
        if status is HTTPStatus.OK and self.headers.get("If-None-Match") == page.etag:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self._cache_headers(page)
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        self._cache_headers(page)
        if page.csp:
            self.send_header("Content-Security-Policy", page.csp)
        self.end_headers()
        if not head:
            self.wfile.write(page.body)

    def _cache_headers(self, page: Page) -> None:
        self.send_header("ETag", page.etag)
        self.send_header("Cache-Control", page.cache_control)
        self.send_header("X-Content-Type-Options", "nosniff")

    def _plain(self, status: HTTPStatus, head: bool) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # Envoy's access log already records every request.
        return


class _Server(ThreadingHTTPServer):
    # The standard backlog (5) drops connections when a browser's burst of requests arrives
    # through Envoy at once; dropped SYNs surface as 503s after Envoy's connect timeout.
    request_queue_size = 128


class StaticServer:
    """Serves ``pages`` on ``host:port`` (0 = any free port) from a background thread."""

    def __init__(self, pages: Mapping[str, Page], host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"pages": dict(pages)})
        self._server = _Server((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="static-site", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def site(self, *, console: bool = False) -> StaticSite:
        return StaticSite(host=str(self._server.server_address[0]), port=self.port, console=console)

    def start(self) -> StaticServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
