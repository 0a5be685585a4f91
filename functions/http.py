"""The HTTP edge every handler shares: reading the body, the bearer token, domain errors -> the contract's
error responses, and the one middleware every answer passes through, the framework's own included (an unknown
route, a wrong method, a crash): the contract's error shape, Cache-Control, CORS and the access log."""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import unquote

from chalice import Blueprint, Response

from mfa_core import runtime
from mfa_core.auth import Caller, authenticate
from mfa_core.config import settings
from mfa_core.errors import (
    Forbidden,
    InvalidRequest,
    MethodNotAllowed,
    MfaError,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from mfa_core.usecases.kernel import Context, Request

MAX_BODY_BYTES = 16 * 1024
# Chalice answers some requests itself (wrong method, unknown route, crashes) as {"Code", "Message"}.
CHALICE_ERRORS = {e.status: e for e in (InvalidRequest, Forbidden, NotFound, MethodNotAllowed, UnsupportedMediaType)}
# Every answer may carry a secret or a personal detail: no cache, proxy or browser keeps one, unless its
# handler says otherwise (the JWKS).
BASE_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}
EXPOSED_HEADERS = "Retry-After, X-Next-Cursor"
# Every preflight grants the service's methods, not the path's: each deployed function serves only its group's
# routes (functions/handlers.py) and a path can have methods in two groups (POST /v1/phone in enroll, DELETE in
# delete), so no function knows all of a path's methods. A method the path lacks still gets its 405.
PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "600",
}
# A crash: the contract's shape without a word of what failed (the traceback is in the log).
INTERNAL = {"error": "internal", "message": "Something went wrong."}

access_log = logging.getLogger(__name__)
# One line per request at INFO, whatever the root level (Lambda's is WARNING). Not under the app's own
# "mfa" logger: Chalice sets that to ERROR and stops it propagating.
access_log.setLevel(logging.INFO)
# Who the view authenticated, for the access-log line the middleware writes once the answer is made.
_caller: ContextVar[Caller | None] = ContextVar("caller", default=None)
_with_preflight: set[str] = set()


@dataclass(frozen=True)
class Call:
    """What a handler gets: who calls, the parsed body and query, the media types it accepts, and the request
    facts (ctx)."""

    caller: Caller | None
    body: dict
    query: dict
    ctx: Context
    accept: str = ""

    @functools.cached_property
    def request(self) -> Request:
        """The use cases' view of this call: who, when, and the container's ports."""
        return Request(runtime.current(), self.caller, self.ctx)


def endpoint(bp: Blueprint, path: str, method: str, *, scopes: tuple[str, ...] = (), status: int = 200):
    """Register `view(call, **path_params) -> dict | Response` on `bp` behind the shared edge.

    The first view of a path in this process also answers its CORS preflight (OPTIONS)."""

    def register(view: Callable[..., dict | Response]):
        methods = [method]
        if path not in _with_preflight:
            _with_preflight.add(path)
            methods.append("OPTIONS")

        @functools.wraps(view)
        def handle(**params: str) -> Response:
            request = bp.current_request
            if request.method == "OPTIONS":
                return Response(body="", status_code=204, headers=dict(PREFLIGHT_HEADERS))
            try:
                # Inside the try: a container's first request may read its token key from Secrets
                # Manager, and a failure there is a 503 like any other cloud failure.
                rt = runtime.current()
                now = rt.clock()
                caller = None
                if scopes:
                    caller = authenticate(request.headers.get("authorization"), rt.settings, scopes, now)
                    _caller.set(caller)
                call = Call(
                    caller=caller,
                    body=read_body(request) if method in ("POST", "PUT", "DELETE") else {},
                    query=dict(request.query_params or {}),
                    ctx=Context(now=now, ip=request.context.get("identity", {}).get("sourceIp", ""),
                                user_agent=request.headers.get("user-agent", "")),
                    accept=request.headers.get("accept", ""),
                )
                result = view(call, **{name: unquote(value) for name, value in params.items()})
                return result if isinstance(result, Response) else Response(body=result, status_code=status)
            except MfaError as e:
                return error_response(e)

        bp.route(path, methods=methods, content_types=["*/*"])(handle)
        return handle

    return register


def read_body(request) -> dict:
    """The JSON object of the request; an empty body counts as {}."""
    raw = request.raw_body or b""
    if isinstance(raw, str):
        raw = raw.encode()
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    if not raw.strip():
        return {}
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise InvalidRequest("The body is not valid JSON.") from e
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    try:
        # JSON's "\ud800" escapes decode to lone surrogates, which no string of ours can hold.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidRequest("The body holds a string that is not valid Unicode.") from e
    return body


def string_field(body: dict, name: str, *, required: bool = True, max_length: int = 1024) -> str | None:
    """A body field that must be a string; a number or null is a malformed request, not a wrong code."""
    if name not in body and not required:
        return None
    value = body.get(name)
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string.")
    if len(value) > max_length:
        raise InvalidRequest(f"{name} is too long.")
    return value


def label_field(body: dict, name: str, *, max_length: int = 64) -> str | None:
    """An optional name people give a thing (an authenticator, a device, a mail client)."""
    value = string_field(body, name, required=False)
    if value is None:
        return None
    if not 1 <= len(value.strip()) <= max_length or not value.isprintable():
        raise InvalidRequest(f"{name} must be 1-{max_length} printable characters.")
    return value.strip()


def bool_field(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false.")
    return value


def error_response(error: MfaError) -> Response:
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    body = {"error": error.error, "message": error.message, **error.extra()}
    return Response(body=body, status_code=error.status, headers=headers)


def contract_errors(request, get_response) -> Response:
    """The http middleware: every answer of every route passes here, Chalice's own (a wrong method, a crash)
    included, and infra/local.py sends its unknown-route 404 through it too. Chalice's error bodies
    ({"Code", "Message"}) get the contract's shape; every answer gets no-store (unless its handler set its
    own Cache-Control), CORS for the allowed origins and one access-log line."""
    started = time.perf_counter()
    _caller.set(None)  # a warm container's previous request must not lend this one its tenant
    response = get_response(request)
    body = response.body
    if isinstance(body, dict) and "Code" in body and "error" not in body:
        known = CHALICE_ERRORS.get(response.status_code)
        response.body = {"error": known.error, "message": known.message} if known else INTERNAL
    response.headers = BASE_HEADERS | response.headers
    _add_cors(request, response, settings().cors_origins)
    _log_access(request, response, _caller.get(), started)
    return response


def _add_cors(request, response: Response, allowed: tuple[str, ...]) -> None:
    # On every answer, an Origin sent or not: a cache must not hand one origin's answer (the JWKS is cacheable)
    # to another.
    response.headers["Vary"] = "Origin"
    origin = request.headers.get("origin")
    if origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS


def _log_access(request, response: Response, caller: Caller | None, started: float) -> None:
    # The route template, never the concrete path (it can hold a mailbox address), body or token.
    entry = {
        "route": request.context.get("resourcePath", ""),
        "method": request.method,
        "status": response.status_code,
        "ms": round((time.perf_counter() - started) * 1000, 1),
        "tenant": caller.tenant if caller else None,
    }
    if isinstance(response.body, dict) and "error" in response.body:
        entry["error"] = response.body["error"]
    access_log.info(json.dumps(entry))
