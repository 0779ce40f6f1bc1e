"""The web console's pages for the mesh's static server: the static export of `web/` (`out/`),
read once at start into the server's fixed table.

Each exported file is served at its path; a page `login.html` also at `/login` (and
`index.html` at `/`); `404.html` answers every other path with status 404. HTML pages carry a
Content-Security-Policy that allows only this origin's scripts plus the exact inline scripts
the export wrote into that page (by hash): no other script, inline or foreign, runs there
(the form engine may compile schemas with eval, see page_csp).
Content-hashed assets (`/_next/static/`) are cached for a year; pages and the service worker
are revalidated on every use (ETag), so a new build is picked up at once.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from pathlib import Path

from services.mesh.static_site import NOT_FOUND_KEY, REPO_ROOT, Page

CONSOLE_DIR = REPO_ROOT / "web" / "out"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Inline scripts of a page: the export's bootstrap and React Server Component payload.
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/x-component; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}


def page_csp(html: bytes) -> str:
    """The CSP of one exported page: its own inline scripts by hash, everything else same-origin."""
    digests = {hashlib.sha256(match.group(1)).digest() for match in _INLINE_SCRIPT.finditer(html)}
    hashes = sorted(f"'sha256-{base64.b64encode(digest).decode()}'" for digest in digests)
    # 'unsafe-eval': the form engine's Ajv compiles each JSON Schema into a function, the way the
    # browser validates with the server's rules. It lets the console's own code call eval; it
    # does not let any script in that this policy would otherwise refuse.
    script_src = " ".join(["'self'", "'unsafe-eval'", *hashes])
    return (
        "default-src 'self'; "
        f"script-src {script_src}; "
        # Radix and React set style attributes; no style can run code.
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        "manifest-src 'self'; worker-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _content_type(path: Path) -> str:
    return _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def console_pages(root: Path = CONSOLE_DIR) -> dict[str, Page]:
    """Every file of the built console by request path; empty when it is not built."""
    if not (root / "index.html").is_file():
        return {}
    pages: dict[str, Page] = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = file.relative_to(root).as_posix()
        body = file.read_bytes()
        content_type = _content_type(file)
        if relative.startswith("_next/static/"):
            page = Page.of(body, content_type, cache_control=IMMUTABLE)
        elif file.suffix == ".html":
            page = Page.of(body, content_type, csp=page_csp(body), cache_control=REVALIDATE)
        else:
            page = Page.of(body, content_type, cache_control=REVALIDATE)
        pages["/" + relative] = page
        if file.suffix == ".html":
            stem = relative.removesuffix(".html")
            if stem == "index":
                pages["/"] = page
            elif stem == "404":
                pages[NOT_FOUND_KEY] = page
            else:
                pages["/" + stem] = page
    return pages
