"""The suite's contract check: each request `Api.call` sends and each answer it gets, against openapi.yaml.

A request the document does not describe fails the test unless the answer is a 4xx that the document lists
for that operation (tests send malformed requests on purpose); the answer is always checked: its status,
its documented headers and its JSON body. An unknown path must answer the documented 404, a known path
with a method it does not serve the documented 405. Schemas are OpenAPI 3.0's (openapi-schema-validator)."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml
from openapi_schema_validator import OAS30Validator

DOCUMENT = Path(__file__).resolve().parent.parent / "openapi.yaml"
LOCAL_ONLY = ("/v1/dev/",)  # docs/API.md: the local run's routes, not part of a deployed API
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
COERCE = {"integer": int, "number": float, "boolean": lambda v: {"true": True, "false": False}[v]}


class ContractError(AssertionError):
    """A request or an answer that openapi.yaml does not describe."""


def resolve(node, doc: dict, seen: tuple = ()):
    """`node` with every local $ref replaced by what it points at (the document has no recursive schema)."""
    if isinstance(node, list):
        return [resolve(v, doc, seen) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if ref is None:
        return {k: resolve(v, doc, seen) for k, v in node.items()}
    if ref in seen or not ref.startswith("#/"):
        raise ValueError(f"openapi.yaml: unsupported $ref {ref}")
    target = doc
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return resolve(target, doc, (*seen, ref))


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class Contract:
    def __init__(self, doc: dict) -> None:
        doc = resolve(doc, doc)
        self.not_found = doc["components"]["responses"]["NotFound"]
        self.method_not_allowed = doc["components"]["responses"]["MethodNotAllowed"]
        self.routes = []  # (compiled path template, {METHOD: (name, operation)}), concrete paths first
        for template, item in sorted(doc["paths"].items(), key=lambda p: p[0].count("{")):
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            shared = item.get("parameters", [])
            ops = {}
            for method, op in item.items():
                if method in METHODS:
                    params = {(p["name"], p["in"]): p for p in (*shared, *op.get("parameters", []))}
                    ops[method.upper()] = (f"{method.upper()} {template}", {**op, "parameters": list(params.values())})
            self.routes.append((re.compile(pattern), ops))
        self._validators: dict[int, OAS30Validator] = {}

    def errors(self, schema: dict, value, where: str) -> list[str]:
        validator = self._validators.setdefault(id(schema), OAS30Validator(schema))
        found = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        return [f"{where} {e.json_path}: {_short(e.message)}" for e in found]

    def check(self, method, target, headers, raw, status, answer_headers, answer_raw) -> None:
        """Raise ContractError naming the operation and each mismatch of this exchange with the document."""
        url = urlsplit(target)
        if url.path.startswith(LOCAL_ONLY):
            return
        ops, match = next(((ops, m) for pattern, ops in self.routes if (m := pattern.fullmatch(url.path))),
                          (None, None))
        method = method.upper()
        if ops is None:
            name, op, responses = f"{method} {url.path} (no such path)", None, {"404": self.not_found}
        elif method not in ops:
            name, op, responses = f"{method} {url.path} (no such method)", None, {"405": self.method_not_allowed}
        else:
            name, op = ops[method]
            responses = op["responses"]
        problems = self.answer_errors(responses, status, answer_headers, answer_raw)
        # A request outside the document is a test of its refusal when the answer is one of its documented 4xx.
        if op is not None and not (400 <= status < 500 and str(status) in responses):
            problems = self.request_errors(op, match.groupdict(), url.query, headers, raw) + problems
        if problems:
            raise ContractError(f"openapi.yaml does not describe this exchange of {name} ({method} {target} -> "
                                f"{status}):\n  " + "\n  ".join(problems))

    def request_errors(self, op: dict, path_params: dict, query: str, headers: dict, raw: bytes) -> list[str]:
        problems = []
        sent = {"path": {k: unquote(v) for k, v in path_params.items()}, "query": dict(parse_qsl(query))}
        for param in op["parameters"]:
            where, name, schema = param["in"], param["name"], param.get("schema", {})
            if name not in sent.get(where, {}):
                if param.get("required"):
                    problems.append(f"request {where} parameter {name}: required but missing")
                continue
            value = sent[where][name]
            try:
                value = COERCE.get(schema.get("type"), str)(value)
            except (KeyError, ValueError):
                problems.append(f"request {where} parameter {name}: {value!r} is not of type {schema['type']!r}")
                continue
            problems += self.errors(schema, value, f"request {where} parameter {name}")
        content_type = {k.lower(): v for k, v in headers.items()}.get("content-type")
        if raw.strip() and not is_json(content_type):
            return [*problems, f"request body: Content-Type {content_type!r} is not JSON"]
        try:
            body = json.loads(raw) if raw.strip() else {}  # docs/API.md: an empty body counts as {}
        except (ValueError, RecursionError) as e:
            return [*problems, f"request body is not JSON: {e}"]
        documented = op.get("requestBody", {}).get("content", {}).get("application/json")
        if documented is None:
            return problems + ([] if body == {} else ["request body: sent, but the operation documents none"])
        return problems + self.errors(documented.get("schema", {}), body, "request body")

    def answer_errors(self, responses: dict, status: int, headers: dict, raw: bytes) -> list[str]:
        response = responses.get(str(status)) or responses.get(f"{status // 100}XX") or responses.get("default")
        if response is None:
            return [f"response status {status} is not documented (documented: {', '.join(responses)})"]
        problems, where = [], f"response {status}"
        headers = {k.lower(): v for k, v in headers.items()}
        for name, header in response.get("headers", {}).items():
            if name.lower() in headers:
                problems += self.errors(header.get("schema", {}), headers[name.lower()], f"{where} header {name}")
            elif header.get("required"):
                problems.append(f"{where} header {name}: required but missing")
        content = response.get("content", {})
        media = (headers.get("content-type") or "").split(";")[0].strip().lower()
        if media in content and not is_json(media):  # a documented non-JSON answer (text/csv): its text
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return [*problems, f"{where} body is not UTF-8: {e}"]
            return problems + self.errors(content[media].get("schema", {}), text, f"{where} body")
        documented = content.get("application/json")
        if documented is None:
            return problems + ([f"{where} body: sent, but none is documented"] if raw else [])
        if not is_json(headers.get("content-type")):
            return [*problems, f"{where}: Content-Type {headers.get('content-type')!r} is not JSON"]
        try:
            body = json.loads(raw)
        except ValueError as e:
            return [*problems, f"{where} body is not JSON: {e}"]
        return problems + self.errors(documented.get("schema", {}), body, f"{where} body")


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


@functools.cache
def contract() -> Contract:
    """The document, read and compiled once per test session."""
    return Contract(yaml.safe_load(DOCUMENT.read_text()))
