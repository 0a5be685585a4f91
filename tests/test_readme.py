"""The README's walk-through runs as written. The shell blocks of its sections "Walk-through: attach, log on, delete"
and "Logon flows" are run in order, in one bash, against the service as `make run` starts it (python -m infra.local
on a free port), and what each command prints is compared with what the README shows under it: exactly, but for
the values that differ at every run (ids, secrets, codes, tokens, times), which must keep their shape, and a long
value the README cuts with `...`, which must start the same."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

import pytest

from infra.processes import free_port
from tests.conftest import ROOT
from tests.helpers_mail import Service

SECTIONS = ("Walk-through: attach, log on, delete", "Logon flows")
README_BASE = "B=http://127.0.0.1:8000"  # the walk-through's first line; here the test server's port
DONE = "__readme_step_done__"
# Answer fields that differ at every run: compared by shape (each letter, digit, "-" and "_" stands for any).
DIFFERS = {
    "enrollment_id", "otpauth_uri", "secret", "recovery_codes", "mfa_token", "device_token", "id", "device", "password",
    "at", "expires_at", "device_expires_at", "two_factor_since", "grace_until", "attached_at", "created_at",
    "last_used_at",
}
NUMBERS_DIFFER = {"retry_after"}  # seconds left: compared by type
# An SMS says its code: compared with the digits masked.
MESSAGES_WITH_CODES = {"message"}


@dataclass
class Step:
    command: str
    shown: str  # what the README prints under it ("" for nothing)


def readme_steps() -> list[Step]:
    text = (ROOT / "README.md").read_text()
    steps: list[Step] = []
    for title in SECTIONS:
        section = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.M | re.S)
        assert section, f"README has no section {title!r}"
        for block in re.findall(r"^```console\n(.*?)^```", section.group(1), re.M | re.S):
            steps += block_steps(block)
    return steps


def block_steps(block: str) -> list[Step]:
    """`$ ` starts a command; a line ending in a backslash goes on on the next; other lines are its output."""
    steps: list[Step] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        assert lines[i].startswith("$ "), f"README: output with no command: {lines[i]!r}"
        command = [lines[i][2:]]
        while command[-1].endswith("\\"):
            i += 1
            command.append(lines[i])
        i += 1
        shown = []
        while i < len(lines) and not lines[i].startswith("$ "):
            shown.append(lines[i])
            i += 1
        steps.append(Step("\n".join(command), "\n".join(shown)))
    return steps


class Shell:
    """One bash for the whole walk-through, as a reader's terminal: variables carry from step to step."""

    def __init__(self) -> None:
        self.bash = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=ROOT, text=True, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def run(self, command: str) -> tuple[str, int]:
        """What the command printed (stdout and stderr) and its exit status."""
        # curl prints an answer without a newline: the marker goes on a line of its own.
        self.bash.stdin.write(f"{command}\nprintf '\\n{DONE} %s\\n' $?\n")
        self.bash.stdin.flush()
        out = []
        for line in self.bash.stdout:
            if line.startswith(DONE):
                return "".join(out).rstrip("\n"), int(line.split()[1])
            out.append(line)
        raise AssertionError(f"bash ended during {command!r}: {''.join(out)}")

    def close(self) -> None:
        self.bash.stdin.close()
        self.bash.wait(timeout=10)


def shape(text: str) -> str:
    return re.sub(r"[A-Za-z0-9_-]", "x", text)


def differences(shown, said, key: str = "", path: str = "") -> list[str]:
    """Where the answer `said` is not what the README `shown` (both parsed JSON)."""
    where = path or "the answer"
    if isinstance(shown, dict) and isinstance(said, dict):
        if set(shown) != set(said):
            return [f"{where}: keys {sorted(said)}, the README shows {sorted(shown)}"]
        return [d for k in shown for d in differences(shown[k], said[k], k, f"{path}.{k}")]
    if isinstance(shown, list) and isinstance(said, list):
        if len(shown) != len(said):
            return [f"{where}: {len(said)} items, the README shows {len(shown)}"]
        in_order = [d for i, (a, b) in enumerate(zip(shown, said)) for d in differences(a, b, key, f"{path}[{i}]")]
        # Audit events written in one transaction share their millisecond, and then their order.
        return in_order if in_order and not same_items(shown, said, key) else []
    if isinstance(shown, str) and isinstance(said, str):
        if shown.endswith("...") and said.startswith(shown[:-3]):
            return []
        if key in DIFFERS and shape(shown) == shape(said):
            return []
        if key in MESSAGES_WITH_CODES and re.sub(r"\d", "0", shown) == re.sub(r"\d", "0", said):
            return []
    elif key in NUMBERS_DIFFER and type(shown) is type(said):
        return []
    return [] if shown == said else [f"{where}: {said!r}, the README shows {shown!r}"]


def same_items(shown: list, said: list, key: str) -> bool:
    left = list(said)
    for item in shown:
        match = next((i for i, other in enumerate(left) if not differences(item, other, key)), None)
        if match is None:
            return False
        left.pop(match)
    return True


def compare(step: Step, printed: str) -> list[str]:
    if not step.shown:
        return [] if not printed else [f"printed {printed!r}, the README shows nothing"]
    try:
        shown, said = json.loads(step.shown), json.loads(printed)
    except json.JSONDecodeError:
        return [] if printed == step.shown else [f"printed {printed!r}, the README shows {step.shown!r}"]
    return differences(shown, said)


@pytest.fixture(scope="module")
def server():
    # What `make token` and `make code` would otherwise install first, saying so, on a venv that `make test` did not
    # just bring up to date: setup, not the walk-through's output.
    subprocess.run(["make", "-s", ".venv/.installed-run"], cwd=ROOT, check=True)
    port = free_port()
    service = Service(port)
    yield f"http://127.0.0.1:{port}"
    service.stop()


def test_the_readme_walk_through_runs_and_prints_what_the_readme_shows(server):
    steps = readme_steps()
    assert steps[0].command == README_BASE
    steps[0].command = "B=" + server
    shell = Shell()
    try:
        for step in steps:
            printed, status = shell.run(step.command)
            assert status == 0, f"{step.command}\nexited {status}: {printed}"
            problems = compare(step, printed)
            assert not problems, f"{step.command}\n" + "\n".join(problems)
    finally:
        shell.close()


def test_the_readme_gives_one_cost_per_million_logons_the_benchmarks():
    """The figure `make bench` models (bench/cost.py) and wrote to bench/results.json, wherever the README says one."""
    said = set(re.findall(r"\$(\d+\.\d\d) per million logons", (ROOT / "README.md").read_text()))
    measured = json.loads((ROOT / "bench" / "results.json").read_text())["cost"]["usd"]
    assert said == {f"{measured:.2f}"}


def test_make_run_installs_what_the_local_service_needs_and_says_so(tmp_path):
    """Into a venv that has nothing yet: requirements-local.txt, never the dev and test tools, with one line."""
    venv = tmp_path / "venv"
    planned = subprocess.run(["make", "-n", "run", f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    assert "-r requirements-local.txt" in planned
    assert "requirements-dev.txt" not in planned
    assert len([line for line in planned.splitlines() if line.startswith("echo ")]) == 1
    local = (ROOT / "requirements-local.txt").read_text()
    for tool in ("pytest", "playwright", "schemathesis", "hypothesis", "ruff", "moto[dynamodb,kms,sns,server]"):
        assert tool not in local


def test_the_comparison_refuses_what_differs():
    """The walk-through's check itself: a changed deterministic value, a missing field, another shape."""
    shown = '{"verified":true,"mfa_token":"eyJhbGciOiJFUzI1NiIs...","at":"2026-11-28T09:33:46Z","retry_after":28}'
    assert compare(Step("x", shown), '{"verified":true,"mfa_token":"eyJhbGciOiJFUzI1NiIsXYZ","at":'
                                     '"2027-01-01T00:00:00Z","retry_after":3}') == []
    assert compare(Step("x", shown), shown.replace("true", "false"))
    assert compare(Step("x", shown), shown.replace('"at":"2026-11-28T09:33:46Z",', ""))
    assert compare(Step("x", shown), shown.replace("2026-11-28T09:33:46Z", "2026-11-28 09:33"))
    assert compare(Step("x", shown), shown.replace("eyJhbGciOiJFUzI1NiIs...", "eyJhbGciOiJIUzI1NiIs"))
    assert compare(Step("x", ""), "make: *** [token] Error 1")
    assert compare(Step("x", "exit 67"), "exit 0")
    listed = '[{"event":"verified","at":"2026-11-28T09:33:46Z"},{"event":"recovery_used","at":"2026-11-28T09:33:46Z"}]'
    assert compare(Step("x", listed), listed.replace("verified", "x").replace("recovery_used", "verified")
                   .replace("x", "recovery_used")) == []
    assert compare(Step("x", listed), listed.replace("recovery_used", "verified"))
