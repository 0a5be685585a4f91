"""`make bench-peer`: privacyIDEA 3.14's /validate/check and our POST /v1/logon/verify, side by side.

Both in-process and in the same run, alternating in batches: privacyIDEA in its own venv
(bench/.peer-venv, driven over a pipe by bench/peer_worker.py, SQLite), ours here (Chalice's test
client + moto). Valid codes are fresh and never replays on either side (privacyIDEA: one token per
user, each checked once; ours: one user per check, with a code for a step later than the one that
attached it); wrong codes are well-formed and outside every window. Merges the figures into
bench/results.json under "peer" and prints them."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter

from bench.harness import ROOT, Meter, totp_code
from bench.inprocess import ADMIN, LOGON, _enroll_and_confirm, expect, wrong_code
from bench.report import merge_results, now_iso, print_peer

PEER_PYTHON = ROOT / "bench" / ".peer-venv" / "bin" / "python"
WORKER = ROOT / "bench" / "peer_worker.py"
READY_TIMEOUT_S = 300


class Peer:
    def __init__(self, work: str, users: int) -> None:
        if not PEER_PYTHON.exists():
            raise SystemExit("bench/.peer-venv is missing: run `make bench-peer` (it installs privacyIDEA 3.14)")
        self.proc = subprocess.Popen(  # noqa: S603 (the peer venv's python, fixed arguments)
            [str(PEER_PYTHON), str(WORKER), "--work", work, "--users", str(users)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=work,
        )
        self.info = self._read(lambda m: m.get("ready"), READY_TIMEOUT_S)

    def _read(self, accept, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"privacyIDEA worker exited ({self.proc.poll()})")
            try:
                message = json.loads(line)
            except ValueError:
                continue  # anything privacyIDEA prints on its own
            if isinstance(message, dict) and accept(message):
                return message
        raise TimeoutError("privacyIDEA worker did not answer in time")

    def check(self, kind: str, users: list[str]) -> dict:
        self.proc.stdin.write(json.dumps({"op": "check", "kind": kind, "users": users}) + "\n")
        self.proc.stdin.flush()
        out = self._read(lambda m: "ms" in m, 120)
        if not all(out["ok"]):
            raise RuntimeError(f"privacyIDEA answered a {kind} check unexpectedly: {out['ok']}")
        return out

    def close(self) -> None:
        try:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def run(per_kind: int, batch: int, warmup: int) -> dict:
    from bench.harness import stack

    rounds = -(-(per_kind + warmup) // batch)
    total = rounds * batch
    peer_ms = {"valid": [], "wrong": []}
    peer_cpu = {"valid": [], "wrong": []}
    peer_own = {"valid": [], "wrong": []}
    peer_sql = {"valid": [], "wrong": []}
    ours_ms = {"valid": [], "wrong": []}
    ours_cpu = {"valid": [], "wrong": []}
    ours_own = {"valid": [], "wrong": []}
    ours_calls = {"valid": Counter(), "wrong": Counter()}
    with tempfile.TemporaryDirectory() as work:
        peer = Peer(work, total)
        try:
            with stack() as s:
                expect("policy_put", s.call("PUT", "/v1/policy", {"two_factor": "on"}, **ADMIN), 200)
                for r in range(rounds):
                    ids = range(r * batch, (r + 1) * batch)
                    # Ours: a cohort attached now (untimed) and forgotten after, so moto's table stays small.
                    users = [f"peer{i:04d}@example.com" for i in ids]
                    uris = {u: _enroll_and_confirm(s, u) for u in users}
                    s.clock.advance(30)
                    for kind in ("valid", "wrong"):
                        out = peer.check(kind, [f"u{i}" for i in ids])
                        peer_ms[kind] += out["ms"]
                        peer_cpu[kind] += out["cpu_ms"]
                        peer_own[kind] += [t - q for t, q in zip(out["ms"], out["sql_ms"])]
                        peer_sql[kind] += out["sql"]
                        for u in users:
                            if kind == "valid":
                                body, status = {"code": totp_code(uris[u], s.clock.now)}, 200
                            else:
                                body, status = {"code": wrong_code(uris[u], s.clock.now)}, 400
                            response = expect(f"verify ({kind})", s.call("POST", "/v1/logon/verify", body, user=u,
                                                                         scope=LOGON), status)
                            ours_ms[kind].append(response.seconds * 1000)
                            ours_cpu[kind].append(response.cpu_seconds * 1000)
                            ours_own[kind].append((response.seconds - response.aws_seconds) * 1000)
                            counted = Meter.counts(response.aws)
                            ours_calls[kind][json.dumps(counted["operations"], sort_keys=True)] += 1
                    s.forget_users(users)
        finally:
            peer.close()

    def p50(values: list[float]) -> float:
        return round(statistics.median(values[warmup:]), 2)

    def usual(counter: Counter) -> dict:
        return json.loads(counter.most_common(1)[0][0])

    valid_calls, wrong_calls = usual(ours_calls["valid"]), usual(ours_calls["wrong"])
    result = {
        "privacyidea_version": peer.info.get("version"),
        "privacyidea_setup_s": peer.info.get("setup_s"),
        "privacyidea_p50_ms": p50(peer_ms["valid"]),
        "privacyidea_wrong_p50_ms": p50(peer_ms["wrong"]),
        "privacyidea_own_p50_ms": p50(peer_own["valid"]),
        "privacyidea_cpu_p50_ms": p50(peer_cpu["valid"]),
        "privacyidea_sql_per_check": {
            "valid": int(statistics.median(peer_sql["valid"][warmup:])),
            "wrong": int(statistics.median(peer_sql["wrong"][warmup:])),
        },
        "verify_p50_ms": p50(ours_ms["valid"]),
        "verify_wrong_p50_ms": p50(ours_ms["wrong"]),
        "verify_own_p50_ms": p50(ours_own["valid"]),
        "verify_cpu_p50_ms": p50(ours_cpu["valid"]),
        "verify_cloud_calls": {"valid": valid_calls, "wrong": wrong_calls},
        "n": {"valid": len(peer_ms["valid"]) - warmup, "wrong": len(peer_ms["wrong"]) - warmup},
        "date": now_iso(),
        "machine": {"cores": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()]},
        "how": "in-process, same run, alternating batches of "
        f"{batch}: privacyIDEA {peer.info.get('version')} (Flask test client, SQLite file, signed audit, "
        "passwd resolver + realm, user+realm+OTP) vs ours (chalice.test.Client + moto). "
        "own = total minus time inside SQL execution (privacyIDEA) / inside botocore calls incl. moto (ours); "
        "cpu = the request's thread CPU time (ours includes moto's).",
    }
    result["ratio"] = round(result["privacyidea_p50_ms"] / result["verify_p50_ms"], 2)
    result["ratio_own"] = round(result["privacyidea_own_p50_ms"] / result["verify_own_p50_ms"], 1)
    result["ratio_cpu"] = round(result["privacyidea_cpu_p50_ms"] / result["verify_cpu_p50_ms"], 2)
    result["ratio_wrong"] = round(result["privacyidea_wrong_p50_ms"] / result["verify_wrong_p50_ms"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=240, help="timed checks per kind and side (>= 200)")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    started = time.monotonic()
    peer = run(args.checks, args.batch, args.warmup)
    merge_results({"peer": peer})
    print_peer(peer)
    print(f"\n(bench-peer took {time.monotonic() - started:.0f} s; results merged into bench/results.json)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
