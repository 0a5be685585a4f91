"""One error, one meaning everywhere: each domain error's code and status are the ones API.md's table
gives, openapi.yaml's Error enum lists exactly those codes and documents each under its status, and the
page has a message for each in both languages. Adding an error without the others fails here."""

import re
from pathlib import Path

import yaml

from mfa_core import errors
from tests.conftest import ROOT

DOC = yaml.safe_load(Path(ROOT, "openapi.yaml").read_text())


def _domain_errors() -> dict[str, int]:
    found, todo = {}, [errors.MfaError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if not cls.__name__.startswith("_"):
            assert found.setdefault(cls.error, cls.status) == cls.status, f"{cls.error} has two statuses"
    return found


ERRORS = _domain_errors()


def _enum_values(schema: dict) -> set[str] | None:
    """The `error` codes a response schema allows (None: any), through $ref, allOf (all must hold) and
    oneOf/anyOf (one must)."""
    if "$ref" in schema:
        return _enum_values(_resolve(schema["$ref"]))
    allowed = schema.get("properties", {}).get("error", {}).get("enum")
    allowed = set(allowed) if allowed is not None else None
    for part in schema.get("allOf", []):
        narrowed = _enum_values(part)
        allowed = narrowed if allowed is None else allowed if narrowed is None else allowed & narrowed
    alternatives = [_enum_values(part) for part in schema.get("oneOf", []) + schema.get("anyOf", [])]
    if alternatives and None not in alternatives:
        union = set().union(*alternatives)
        allowed = union if allowed is None else allowed & union
    return allowed


def _resolve(ref: str) -> dict:
    node = DOC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_error_has_the_status_of_api_md_table():
    table = Path(ROOT, "docs", "API.md").read_text()
    documented = {code: int(status) for status, code in re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", table, re.M)}
    assert ERRORS == documented


def test_the_openapi_error_enum_is_exactly_the_domain_errors():
    assert set(DOC["components"]["schemas"]["Error"]["properties"]["error"]["enum"]) == set(ERRORS)


def test_each_error_is_documented_under_its_own_status_and_no_other():
    by_status: dict[int, set[str]] = {}
    for operations in DOC["paths"].values():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    schema = _resolve(response["$ref"]) if "$ref" in response else response
                    for media in schema.get("content", {}).values():
                        by_status.setdefault(int(status), set()).update(_enum_values(media["schema"]) or ERRORS)
    # A method a path does not serve has no operation to be documented under: its response is a component.
    component = DOC["components"]["responses"]["MethodNotAllowed"]["content"]["application/json"]
    assert _enum_values(component["schema"]) == {"method_not_allowed"}
    by_status.setdefault(405, set()).add("method_not_allowed")
    for code, status in ERRORS.items():
        assert code in by_status.get(status, set()), f"{code} is never documented as a {status}"
        assert not [s for s, codes in by_status.items() if code in codes and s != status], code


def test_the_page_has_a_message_for_each_error_in_both_languages():
    english = Path(ROOT, "web", "i18n-en.js").read_text()
    chinese = Path(ROOT, "web", "i18n-zh-CN.js").read_text()
    for code in ERRORS:
        assert f'"error.{code}":' in english, f"no English message for {code}"
        assert f'"error.{code}":' in chinese, f"no Chinese message for {code}"
