"""The contract as the JSON document GET /v1/openapi.json serves, made from openapi.yaml when packaging
(infra/package.py), so the Lambda ships no YAML parser and parses no YAML at run time."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "openapi.yaml"
NAME = "openapi.json"  # where functions/health.py looks for it: beside functions/, at the package's root


def document(source: Path = SOURCE) -> dict:
    return yaml.safe_load(source.read_text(encoding="utf-8"))


def write(dest: Path) -> Path:
    """Write `dest`/openapi.json (dest: the function package's root) from openapi.yaml; returns its path.
    A YAML value JSON cannot hold (an unquoted date, say) fails here, at packaging, not in a request."""
    path = dest / NAME
    path.write_text(json.dumps(document(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return path
