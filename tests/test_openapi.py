"""The OpenAPI document: served, valid, complete, and true (schemathesis against the live local server, and
every exchange of the suite through `Api.call`, tests/contract.py); its request limits are the code's."""
import ast
import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate

from infra import openapi_json
from tests import conftest
from tests.conftest import ROOT, make_token
from tests.contract import LOCAL_ONLY, Contract, ContractError, contract, resolve

DOC = yaml.safe_load(Path(ROOT, "openapi.yaml").read_text())
ALL_SCOPES = "mfa:logon mfa:settings mfa:admin mfa:gateway"


def test_the_document_is_valid_openapi_3():
    validate(DOC)


def test_the_document_is_served_as_json(api):
    r = api.call("GET", "/v1/openapi.json")
    assert r.status_code == 200 and r.json == DOC


def test_the_package_serves_the_json_made_when_packaging_and_never_reads_yaml(tmp_path):
    """As in the function zip: functions/ and openapi.json at the root, mfa_core beside (the layer), and
    neither infra/ nor PyYAML importable."""
    shutil.copytree(ROOT / "functions", tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    assert openapi_json.write(tmp_path) == tmp_path / "openapi.json"
    code = ("import json, sys; sys.modules['yaml'] = sys.modules['infra'] = None; import functions.health as h; "
            "print(json.dumps(h._openapi()))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFA_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT / "layers" / "mfa_core" / "python")])
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == DOC


def test_every_route_is_documented_with_its_methods(chalice_app):
    served = {path: {m.lower() for m in methods} - {"options"}
              for path, methods in ((p, chalice_app.routes[p].keys()) for p in chalice_app.routes)
              if path.startswith("/v1/") and not path.startswith(LOCAL_ONLY)}
    documented = {path: set(ops) - {"parameters"} for path, ops in DOC["paths"].items()}
    assert served == documented


schema = schemathesis.openapi.from_dict(DOC)


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_5xx_and_no_answer_outside_the_schema(case, live):
    """Bounded: 12 generated requests per operation, loopback only. A token with every scope, so the
    generated bodies reach the handlers instead of stopping at 403. "Positive data acceptance" is off:
    a well-formed but wrong code is rightly a 400."""
    token = make_token("fuzz@example.com", "fuzz", ALL_SCOPES, lifetime=3600)
    case.call_and_validate(base_url=live, headers={"Authorization": f"Bearer {token}"},
                           excluded_checks=[schemathesis.checks.positive_data_acceptance])


# --- the contract check of the test client (tests/contract.py) cannot pass silently --------------------------


CONTRACT = contract()  # the one the test client uses
JSON = {"Content-Type": "application/json"}
CONFIRM = "/v1/authenticator/confirm"


def exchange(method, path, body, status, answer, *, headers=None, answer_headers=None):
    """Check one made-up exchange; the ContractError's text, or None when the document describes it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    try:
        CONTRACT.check(method, path, headers or JSON, raw, status, answer_headers or {**JSON, "Cache-Control":
                       "no-store"}, reply)
    except ContractError as e:
        return str(e)
    return None


ATTACHED = {"attached": True, "recovery_codes": ["abcd-efgh"] * 10}


def test_the_check_passes_documented_exchanges():
    assert exchange("POST", CONFIRM, {"enrollment_id": "e", "code": "123456"}, 200, ATTACHED) is None
    assert exchange("POST", CONFIRM, {"code": 1}, 400, {"error": "invalid_request", "message": "m"}) is None
    assert exchange("GET", "/v1/nope", b"", 404, {"error": "not_found", "message": "Not found."}) is None
    assert exchange("PATCH", "/v1/policy", b"", 405, {"error": "method_not_allowed", "message": "m"}) is None
    assert exchange("GET", "/v1/admin/events?user=a%40b.c&limit=100", b"", 200, []) is None


@pytest.mark.parametrize("status, answer, expected", [
    (400, {"error": "teapot", "message": "m"}, "'teapot' is not one of"),  # an undocumented error code
    (400, {"error": "invalid_code", "message": "m"}, "response 400 body"),  # without attempts_left
    (404, {"error": "forbidden", "message": "m"}, "'forbidden' is not one of ['not_found']"),
    (404, {"Code": "NotFoundError", "Message": "m"}, "'error' is a required property"),  # Chalice's own shape
    (200, {"attached": "yes", "recovery_codes": ["abcd-efgh"] * 10}, "$.attached: 'yes' is not of type 'boolean'"),
    (200, {"attached": True, "recovery_codes": ["abcd-efgh"] * 9}, "$.recovery_codes: "),
    (418, {"error": "teapot", "message": "m"}, "status 418 is not documented"),
    (200, b"<html>", "body is not JSON"),
])
def test_the_check_refuses_an_answer_the_document_does_not_describe(status, answer, expected):
    problem = exchange("POST", CONFIRM, {"enrollment_id": "e", "code": "123456"}, status, answer)
    assert problem is not None and "POST /v1/authenticator/confirm" in problem and expected in problem, problem


def test_the_check_refuses_missing_documented_headers():
    locked = {"error": "locked", "message": "m", "retry_after": 30}
    problem = exchange("POST", "/v1/logon/verify", {"code": "123456"}, 429, locked)
    assert "response 429 header Retry-After: required but missing" in problem, problem
    problem = exchange("POST", CONFIRM, {"enrollment_id": "e", "code": "1"}, 200, ATTACHED, answer_headers=JSON)
    assert "response 200 header Cache-Control: required but missing" in problem, problem


@pytest.mark.parametrize("method, path, body, expected", [
    ("POST", CONFIRM, {"code": "123456"}, "request body $: 'enrollment_id' is a required property"),
    ("POST", CONFIRM, {"enrollment_id": "e" * 65, "code": "1"}, "request body $.enrollment_id: 'eeee"),
    ("POST", CONFIRM, {"enrollment_id": "e", "code": 123456}, "$.code: 123456 is not of type 'string'"),
    ("POST", CONFIRM, b"{", "request body is not JSON"),
    ("DELETE", "/v1/authenticator", {"code": "1", "recovery_code": "2"}, "request body $: {'code': '1', "),
    ("DELETE", "/v1/authenticator", {}, "request body $: {} is not valid under any of the given schemas"),
    ("GET", "/v1/admin/events?limit=5", b"", "request query parameter user: required but missing"),
    ("GET", "/v1/admin/events?user=a&limit=x", b"", "request query parameter limit: 'x' is not of type"),
    ("GET", "/v1/admin/users/" + "a" * 255, b"", "request path parameter user $: 'aaaa"),
    ("POST", "/v1/logon/skip", {"unexpected": 1}, "request body: sent, but the operation documents none"),
])
def test_the_check_refuses_a_request_the_document_does_not_describe_when_it_succeeds(method, path, body, expected):
    """A request outside the document is reported when the answer is a success: the suite would be proving
    something the document does not promise. The same request answered by a documented 4xx is a test of the
    refusal, and passes."""
    success = {"GET": [], "DELETE": {"deleted": True}}.get(method, ATTACHED)
    problem = exchange(method, path, body, 200, success)
    assert problem is not None and expected in problem, problem
    assert exchange(method, path, body, 400, {"error": "invalid_request", "message": "m"}) is None


def test_the_test_client_checks_every_exchange(api, monkeypatch):
    """Api.call runs the check: a document that says /v1/health answers {"status": "fine"} fails the call."""
    doc = copy.deepcopy(DOC)
    doc["paths"]["/v1/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "properties"]["status"]["enum"] = ["fine"]
    monkeypatch.setattr(conftest, "contract", lambda: Contract(doc))
    with pytest.raises(ContractError, match=r"GET /v1/health.*\n.*\$\.status: 'ok' is not one of \['fine'\]"):
        api.call("GET", "/v1/health")


# --- the document's request limits are the code's ------------------------------------------------------------


def field_limits() -> dict[tuple[str, str, str], int]:
    """{(METHOD, path, body field): max length} of every string_field/label_field call in a view that
    functions/*.py registers with `endpoint(bp, path, method)`, with the helper's default max_length when the
    call gives none. Literals and module-level constants of any functions/ file are understood."""
    trees = [ast.parse(f.read_text()) for f in sorted(Path(ROOT, "functions").glob("*.py"))]
    constants = {t.id: node.value for tree in trees for node in tree.body if isinstance(node, ast.Assign)
                 for t in node.targets if isinstance(t, ast.Name)}

    def value(node):
        return ast.literal_eval(constants.get(node.id, node) if isinstance(node, ast.Name) else node)

    def name(node) -> str | None:  # f(...) or module.f(...)
        func = node.func if isinstance(node, ast.Call) else None
        return getattr(func, "id", None) or getattr(func, "attr", None)

    functions = [n for tree in trees for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    defaults = {f.name: value(d) for f in functions if f.name in ("string_field", "label_field")
                for a, d in zip(f.args.kwonlyargs, f.args.kw_defaults) if a.arg == "max_length"}
    assert set(defaults) == {"string_field", "label_field"}, defaults
    limits = {}
    for view in functions:
        routes = [d for d in view.decorator_list if name(d) == "endpoint"]
        if routes:
            path, method = (value(a) for a in routes[0].args[1:3])
            for call in ast.walk(view):
                if name(call) in defaults:
                    given = {k.arg: value(k.value) for k in call.keywords if k.arg == "max_length"}
                    limits[method, path, value(call.args[1])] = given.get("max_length", defaults[name(call)])
    return limits


def test_every_body_length_limit_of_the_code_is_in_the_document():
    limits = field_limits()
    documented = resolve(DOC, DOC)["paths"]
    assert len(limits) >= 14, limits  # the walk found the endpoints (a refactor must not make this vacuous)
    wrong = {}
    for (method, path, field), limit in sorted(limits.items()):
        if path.startswith(LOCAL_ONLY):
            continue
        schema = documented[path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
        got = schema.get("properties", {}).get(field, {}).get("maxLength")
        if got != limit:
            wrong[f"{method} {path} {field}"] = {"code": limit, "openapi.yaml": got}
    assert not wrong, wrong
