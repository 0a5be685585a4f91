"""The reference web page: GET / (web/index.html) and GET /assets/{name} (the other files of web/).

Only files that exist directly in web/ are served, by name: a name with a slash, `..` or anything else
not in that folder's listing is the contract's 404, so no request reaches outside web/."""

from __future__ import annotations

import hashlib
import html
from pathlib import Path

from chalice import Blueprint, Response

from mfa_core import runtime
from mfa_core.errors import NotFound

from .http import Call, endpoint

bp = Blueprint(__name__)
# app.py's directory: functions/ sits beside app.py in the repository, and at the root of the Lambda
# package, where Chalice also copies vendor/web (a link to ../web).
WEB = Path(__file__).resolve().parent.parent / "web"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The names are not fingerprinted, so a browser revalidates every time (a 304 when unchanged): after a
# deploy, index.html, app.js and the strings always come from the same version.
CACHE_CONTROL = "no-cache"
# index.html's empty slot for the origins the page may hand a logon result to (web/screens-logon.js): the
# deployment's MFA_CORS_ORIGINS, told by the server because the fragment that names the receiver is the
# opener's word, and any site can open the page.
HANDOFF_SLOT = '<meta name="mfa-handoff-origins" content="">'


def _page_headers() -> dict:
    # The page talks only to this API and shows the QR code from a data: URI. It may be framed by the
    # tenant's own web pages (the origins CORS already trusts), by no one else (clickjacking).
    ancestors = " ".join(("'self'", *runtime.current().settings.cors_origins))
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            f"base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
        ),
        "Referrer-Policy": "no-referrer",
    }


def _with_handoff_origins(page: str) -> str:
    origins = html.escape(" ".join(runtime.current().settings.cors_origins), quote=True)
    return page.replace(HANDOFF_SLOT, HANDOFF_SLOT.replace('content=""', f'content="{origins}"'), 1)


def _serve(name: str) -> Response:
    path = WEB / name
    if name.startswith(".") or path.suffix not in CONTENT_TYPES or name not in _listing():
        raise NotFound()
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        text = _with_handoff_origins(text)
    # Over what is sent, origins included: a changed MFA_CORS_ORIGINS is a new page.
    etag = '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'
    headers = {
        "Content-Type": CONTENT_TYPES[path.suffix],
        "Cache-Control": CACHE_CONTROL,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
        **(_page_headers() if path.suffix == ".html" else {}),
    }
    if bp.current_request.headers.get("if-none-match") == etag:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=text, status_code=200, headers=headers)


def _listing() -> set[str]:
    return {p.name for p in WEB.iterdir() if p.is_file()} if WEB.is_dir() else set()


@endpoint(bp, "/", "GET")
def index(call: Call) -> Response:
    # The page's links are relative (assets/app.js, v1/...): behind API Gateway it lives at /<stage>/, and
    # /<stage> without the slash would resolve them one level too high.
    path = bp.current_request.context.get("path") or "/"
    if not path.endswith("/"):
        return Response(body="", status_code=308, headers={"Location": path + "/", "Cache-Control": CACHE_CONTROL})
    return _serve("index.html")


@endpoint(bp, "/assets/{name}", "GET")
def asset(call: Call, name: str) -> Response:
    return _serve(name)
