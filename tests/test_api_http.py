"""The HTTP edge every endpoint shares: routing errors, reading the body, the error shape, caching, CORS, and
the one middleware every answer passes through (the framework's own included) with its access-log line."""

import json
from typing import NamedTuple

import boto3
import pytest

from mfa_core import runtime
from tests.conftest import attach, code_for, run_python

ENROLL = "/v1/authenticator/enroll"
ALLOWED_ORIGIN = "https://mail.example.com"
DISALLOWED_ORIGIN = "https://evil.example.net"
SERVICE_METHODS = {"GET", "POST", "PUT", "DELETE", "OPTIONS"}
BROKEN_TENANT = "broken"


def header(response, name):
    """A response header by name, ignoring case (None when absent)."""
    return {k.lower(): v for k, v in response.headers.items()}.get(name.lower())


def assert_error(response, status, error):
    assert response.status_code == status, (response.status_code, response.body)
    assert response.json["error"] == error, response.json
    assert isinstance(response.json["message"], str) and response.json["message"]


def post_raw(api, raw, content_type="application/json", path=ENROLL):
    return api.call("POST", path, token=api.token(), raw=raw, headers={"Content-Type": content_type})


@pytest.fixture
def allowed_origin(api, monkeypatch):
    """A deployment whose MFA_CORS_ORIGINS lists the mail web app."""
    monkeypatch.setenv("MFA_CORS_ORIGINS", ALLOWED_ORIGIN)
    runtime.reset()
    runtime.current().clock = api.clock
    yield ALLOWED_ORIGIN
    monkeypatch.undo()
    runtime.reset()


# --- routing ------------------------------------------------------------------------------------


def test_health_answers_ok_without_a_token(api):
    r = api.call("GET", "/v1/health")
    assert r.status_code == 200
    assert r.json == {"status": "ok"}


def test_unknown_route_is_not_found(api):
    for path in ("/v1/nope", "/v1/policy/extra", "/v2/health"):
        r = api.call("GET", path, token=api.token())
        assert_error(r, 404, "not_found")
        assert set(r.json) == {"error", "message"}, path


def test_known_route_with_wrong_method_is_method_not_allowed(api):
    for method, path in [("PATCH", "/v1/policy"), ("GET", "/v1/logon/verify"), ("POST", "/v1/factors")]:
        r = api.call(method, path, token=api.token(scope="mfa:admin"))
        assert_error(r, 405, "method_not_allowed")
        assert set(r.json) == {"error", "message"}, (method, path)


# --- the request body ---------------------------------------------------------------------------


def test_body_over_16_kib_is_payload_too_large(api):
    r = post_raw(api, b'{"name": "' + b"x" * (16 * 1024) + b'"}')
    assert_error(r, 413, "payload_too_large")


def test_body_of_exactly_16_kib_is_read(api):
    raw = b"{}" + b" " * (16 * 1024 - 2)
    assert len(raw) == 16 * 1024
    r = post_raw(api, raw)
    assert r.status_code == 200, r.json
    assert r.json["otpauth_uri"].startswith("otpauth://totp/")


def test_non_empty_body_that_is_not_json_is_unsupported_media_type(api):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        r = post_raw(api, b'{"name": "Phone"}', content_type)
        assert_error(r, 415, "unsupported_media_type")


def test_json_content_type_with_charset_is_accepted(api):
    r = post_raw(api, b'{"name": "Phone"}', "application/json; charset=utf-8")
    assert r.status_code == 200, r.json


def test_malformed_json_is_invalid_request(api):
    for raw in (b"{", b'{"name": }', b"{'name': 'x'}", b"\xff\xfe", b'{"a": 1} trailing'):
        r = post_raw(api, raw)
        assert_error(r, 400, "invalid_request")


def test_json_body_that_is_not_an_object_is_invalid_request(api):
    for raw in (b"[]", b'["name"]', b'"name"', b"42", b"true", b"null"):
        r = post_raw(api, raw)
        assert_error(r, 400, "invalid_request")


def test_deeply_nested_json_is_invalid_request_not_a_crash(api):
    # Cut to the size limit so the nesting, not the size, is what gets refused.
    for raw in (b"[" * 100_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000):
        r = post_raw(api, raw[: 16 * 1024])
        assert_error(r, 400, "invalid_request")


def test_empty_body_counts_as_an_empty_object(api):
    for content_type in ("application/json", "text/plain"):
        r = api.call("POST", ENROLL, token=api.token(), raw=b"", headers={"Content-Type": content_type})
        assert r.status_code == 200, (content_type, r.json)
        assert r.json["enrollment_id"]


# --- the shape of every answer ------------------------------------------------------------------


def test_error_body_has_exactly_error_and_message(api):
    cases = [
        ("GET", "/v1/factors", None, b"", 401),
        ("GET", "/v1/policy", "mfa:settings", b"", 403),
        ("GET", "/v1/nope", "mfa:settings", b"", 404),
        ("PATCH", "/v1/policy", "mfa:admin", b"", 405),
        ("POST", ENROLL, "mfa:settings", b"[1]", 400),
        ("POST", ENROLL, "mfa:settings", b"{" + b" " * 17_000 + b"}", 413),
        ("POST", "/v1/authenticator/confirm", "mfa:settings", b'{"enrollment_id": "nope", "code": "1"}', 404),
    ]
    for method, path, scope, raw, status in cases:
        token = api.token(scope=scope) if scope else None
        r = api.call(method, path, token=token, raw=raw)
        assert r.status_code == status, (method, path, r.json)
        assert set(r.json) == {"error", "message"}, (method, path, r.json)
        assert header(r, "Content-Type").startswith("application/json")


def test_invalid_code_error_also_has_attempts_left(api):
    att = attach(api)
    api.clock.advance(30)
    wrong = "000000" if code_for(att["uri"], api.clock.now) != "000000" else "111111"
    r = api.as_user("POST", "/v1/logon/verify", {"code": wrong}, scope="mfa:logon")
    assert_error(r, 400, "invalid_code")
    assert set(r.json) == {"error", "message", "attempts_left"}
    assert r.json["attempts_left"] == 4


def test_locked_error_has_retry_after_in_body_and_header(api):
    att = attach(api)
    api.clock.advance(30)
    wrong = "000000" if code_for(att["uri"], api.clock.now) != "000000" else "111111"
    for _ in range(5):
        r = api.as_user("POST", "/v1/logon/verify", {"code": wrong}, scope="mfa:logon")
        assert r.status_code == 400, r.json
    assert r.json["attempts_left"] == 0
    r = api.as_user("POST", "/v1/logon/verify", {"code": code_for(att["uri"], api.clock.now)}, scope="mfa:logon")
    assert_error(r, 429, "locked")
    assert set(r.json) == {"error", "message", "retry_after"}
    assert 0 < r.json["retry_after"] <= 900
    assert header(r, "Retry-After") == str(r.json["retry_after"])


def test_enroll_answer_is_not_cached(api):
    r = api.as_user("POST", ENROLL, {})
    assert r.status_code == 200
    assert header(r, "Cache-Control") == "no-store"


def test_every_v1_answer_is_not_cached_errors_included(api):
    cases = [
        ("GET", "/v1/factors", None),  # 401
        ("GET", "/v1/policy", "mfa:settings"),  # 403
        ("GET", "/v1/nope", "mfa:settings"),  # 404 from the gateway
        ("PATCH", "/v1/policy", "mfa:admin"),  # 405 from the framework
        ("GET", "/v1/health", None),
        ("GET", "/v1/policy", "mfa:admin"),
    ]
    for method, path, scope in cases:
        r = api.call(method, path, token=api.token(scope=scope) if scope else None)
        assert header(r, "Cache-Control") == "no-store", (method, path, r.status_code, r.headers)


# --- CORS ---------------------------------------------------------------------------------------


def test_origin_not_in_the_allowed_list_gets_no_cors_grant(api):
    r = api.call("GET", "/v1/health", headers={"Origin": "https://evil.example.net"})
    assert r.status_code == 200
    assert header(r, "Access-Control-Allow-Origin") is None


def test_no_origin_is_allowed_when_none_is_configured(api):
    r = api.call("GET", "/v1/health", headers={"Origin": ALLOWED_ORIGIN})
    assert header(r, "Access-Control-Allow-Origin") is None


def test_allowed_origin_is_echoed_and_varies_on_origin(api, allowed_origin):
    r = api.call("POST", ENROLL, {}, token=api.token(), headers={"Origin": allowed_origin})
    assert r.status_code == 200, r.json
    assert header(r, "Access-Control-Allow-Origin") == allowed_origin
    assert "origin" in [v.strip().lower() for v in header(r, "Vary").split(",")]


def test_allowed_origin_can_read_error_answers_too(api, allowed_origin):
    r = api.call("GET", "/v1/factors", headers={"Origin": allowed_origin})
    assert_error(r, 401, "unauthorized")
    assert header(r, "Access-Control-Allow-Origin") == allowed_origin


def test_other_origin_is_not_granted_when_some_are_configured(api, allowed_origin):
    for origin in ("https://evil.example.net", "https://mail.example.com.evil.net", "null", "*"):
        r = api.call("GET", "/v1/health", headers={"Origin": origin})
        assert header(r, "Access-Control-Allow-Origin") is None, origin


class Answer(NamedTuple):
    """A request and what the edge must answer it: its status, error, Cache-Control, and its access-log line."""

    what: str
    method: str
    path: str
    scope: str | None
    tenant: str | None  # of the caller, as the access log names it
    route: str | None
    status: int
    error: str | None
    cache_control: str = "no-store"
    raw: bytes = b""
    content_type: str = "application/json"


# Each kind of answer: the framework's (unknown route, wrong method, a crash), the edge's own (415), a handler
# that sets its own Cache-Control. A caller's answer comes before an anonymous one, so a tenant left over from
# the request before would show in the log.
ANSWERS = [
    Answer("crash", "GET", "/v1/policy", "mfa:admin", BROKEN_TENANT, "/v1/policy", 500, "internal"),
    Answer("unknown route", "GET", "/v1/nope", None, None, None, 404, "not_found"),
    Answer("not JSON", "POST", ENROLL, "mfa:settings", "demo", ENROLL, 415, "unsupported_media_type",
           raw=b'{"name": "Phone"}', content_type="text/plain"),
    Answer("wrong method", "PATCH", "/v1/policy", "mfa:admin", None, "/v1/policy", 405, "method_not_allowed"),
    Answer("the JWKS", "GET", "/v1/jwks.json", None, None, "/v1/jwks.json", 200, None, "public, max-age=300"),
]


@pytest.fixture
def broken_tenant(api):
    """A tenant whose stored policy no code can read (not JSON): whatever reads it crashes."""
    item = {"PK": {"S": f"T#{BROKEN_TENANT}"}, "SK": {"S": "POLICY"}, "doc": {"S": "{not json"}, "version": {"N": "1"}}
    boto3.client("dynamodb").put_item(TableName="mfa", Item=item)
    return BROKEN_TENANT


def send(api, answer: Answer, origin: str, caplog):
    """The answer, and the access-log lines written for it. Through the raw test client: a crash's 500 is in
    no contract (the other answers are checked against openapi.yaml by the tests above)."""
    caplog.clear()
    headers = {"Origin": origin, "Content-Type": answer.content_type}
    if answer.scope:
        token = api.token(scope=answer.scope, tenant=answer.tenant or "demo")
        headers["Authorization"] = f"Bearer {token}"
    r = api.client.http.request(answer.method, answer.path, headers=headers, body=answer.raw)
    return r, access_lines(caplog)


def access_lines(caplog) -> list[dict]:
    return [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "functions.http"]


def assert_answered_and_logged_once(r, lines, answer: Answer) -> None:
    where = answer.what
    assert r.status_code == answer.status, (where, r.status_code, r.body)
    if answer.error:
        assert json.loads(r.body).keys() == {"error", "message"} and json.loads(r.body)["error"] == answer.error, where
    assert header(r, "Cache-Control") == answer.cache_control, (where, r.headers)
    assert header(r, "Vary") == "Origin", (where, r.headers)
    expected = {"route": answer.route, "method": answer.method, "status": answer.status, "tenant": answer.tenant}
    assert len(lines) == 1, (where, lines)
    assert {k: lines[0].get(k) for k in expected} == expected and lines[0].get("error") == answer.error, (where, lines)


def test_every_kind_of_answer_to_an_allowed_origin_is_readable_there_and_logged_once(
    api, allowed_origin, broken_tenant, caplog
):
    for answer in ANSWERS:
        r, lines = send(api, answer, allowed_origin, caplog)
        assert_answered_and_logged_once(r, lines, answer)
        assert header(r, "Access-Control-Allow-Origin") == allowed_origin, (answer.what, r.headers)
        assert header(r, "Access-Control-Expose-Headers") == "Retry-After, X-Next-Cursor", answer.what


def test_every_kind_of_answer_to_another_origin_grants_it_nothing_and_is_logged_once(
    api, allowed_origin, broken_tenant, caplog
):
    for answer in ANSWERS:
        r, lines = send(api, answer, DISALLOWED_ORIGIN, caplog)
        assert_answered_and_logged_once(r, lines, answer)
        assert not [name for name in r.headers if name.lower().startswith("access-control-")], (answer.what, r.headers)


def preflight(api, path: str, origin: str):
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    return api.client.http.request("OPTIONS", path, headers=headers, body=b"")


def test_every_preflight_grants_the_services_methods_and_headers_to_an_allowed_origin_only(
    api, allowed_origin, caplog
):
    # GET only; POST here and DELETE in another deployed function; GET and PUT.
    for path in ("/v1/health", "/v1/phone", "/v1/policy"):
        r = preflight(api, path, DISALLOWED_ORIGIN)
        assert r.status_code == 204 and header(r, "Access-Control-Allow-Origin") is None, path
        caplog.clear()
        r = preflight(api, path, allowed_origin)
        assert r.status_code == 204, (path, r.body)
        assert header(r, "Access-Control-Allow-Origin") == allowed_origin, path
        assert {m.strip() for m in header(r, "Access-Control-Allow-Methods").split(",")} == SERVICE_METHODS, path
        allowed_headers = {h.strip().lower() for h in header(r, "Access-Control-Allow-Headers").split(",")}
        assert {"authorization", "content-type"} <= allowed_headers, path
        assert header(r, "Access-Control-Max-Age") == "600", path
        lines = [(line["route"], line["method"], line["status"]) for line in access_lines(caplog)]
        assert lines == [(path, "OPTIONS", 204)], path


def test_the_enroll_function_alone_grants_delete_on_the_path_it_shares_with_the_delete_function():
    """The deployed enroll function (functions/entry/enroll.py, in an interpreter of its own) has POST /v1/phone
    and answers the path's preflight; DELETE /v1/phone is the delete function's. The browser's DELETE must pass."""
    code = f"""
import json
from chalice.test import Client
from functions.entry.enroll import app
with Client(app) as client:
    r = client.http.request("OPTIONS", "/v1/phone", body=b"",
                            headers={{"Origin": "{ALLOWED_ORIGIN}", "Access-Control-Request-Method": "DELETE"}})
print(json.dumps({{"methods": sorted(app.routes["/v1/phone"]), "status": r.status_code, "headers": dict(r.headers)}}))
"""
    env = {"MFA_DEV_MODE": "1", "MFA_TABLE": "mfa", "MFA_KMS_KEY_ID": "alias/mfa", "MFA_CORS_ORIGINS": ALLOWED_ORIGIN}
    seen = json.loads(run_python(code, env).stdout.splitlines()[-1])
    assert seen["methods"] == ["OPTIONS", "POST"]
    assert seen["status"] == 204
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert {m.strip() for m in headers["access-control-allow-methods"].split(",")} == SERVICE_METHODS
