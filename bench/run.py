"""`make bench`: cloud calls, latency, cold start, package size and cost per million logons.

Loopback and in-process only. Prints a table and writes bench/results.json (keeping a previous
`make bench-peer` run's "peer" figures). `--requests N` (>= 300 for the record) and `--skip-package`
make quicker runs."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from bench import cost, inprocess, package
from bench.harness import ROOT
from bench.report import merge_results, now_iso, print_main

COLD_START_TIMEOUT_S = 300


def machine(load_start: list[float]) -> dict:
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "loadavg_start": load_start,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }


def cold_start(runs: int, python: str) -> dict:
    done = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
        [sys.executable, "-m", "bench.coldstart", "--runs", str(runs), "--python", python],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=COLD_START_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cold start failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per operation")
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--cold-python", default=sys.executable,
                        help="the cold starts' interpreter: Lambda runs CPython 3.13 (make bench passes .venv313's)")
    parser.add_argument("--skip-package", action="store_true")
    args = parser.parse_args()
    from infra.local import dynamodb_engine

    if dynamodb_engine() == "local":
        return second_engine(args.requests)
    started = time.monotonic()
    load_start = [round(x, 2) for x in os.getloadavg()]

    def step(name: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {name}", file=sys.stderr, flush=True)

    # Cold start first: fresh interpreters, least disturbed by this process's own garbage.
    step(f"cold start ({args.cold_runs} fresh interpreters)")
    cold = cold_start(args.cold_runs, args.cold_python)
    step("cloud calls per operation")
    counted = inprocess.count_calls()
    step(f"latency ({args.requests} requests per operation)")
    timed = inprocess.measure_latency(requests=args.requests)
    if args.skip_package:
        sizes = {"function": None, "layer": None, "source": "skipped (--skip-package)"}
    else:
        step("package size")
        sizes = package.measure()
    estimate = cost.per_million_logons(counted["calls"], timed["latency_ms"], cold, timed["log_bytes_per_request"])

    results = {
        "calls": counted["calls"],
        "latency_ms": timed["latency_ms"],
        "cold_start_ms": cold,
        "package_bytes": sizes,
        "cost_per_million_logons_usd": estimate["usd"],
        "cost": estimate,
        "skipped": {**counted["skipped"], **timed["skipped"]},
        "log_bytes_per_request": timed["log_bytes_per_request"],
        "date": now_iso(),
        "machine": machine(load_start),
        "targets": {
            "warm_verify_dynamodb_le_3": (counted["calls"]["verify"] or {}).get("dynamodb", 99) <= 3,
            "warm_verify_kms_0": (counted["calls"]["verify"] or {}).get("kms", 99) == 0,
            "logon_with_device_dynamodb_le_3": None
            if counted["calls"]["logon_with_device"] is None
            else counted["calls"]["logon_with_device"]["dynamodb"] <= 3,
            "own_import_le_60_ms": cold["targets_met"]["import_own"],
            "first_verify_own_le_150_ms": cold["targets_met"]["first_verify_own"],
            "no_enroll_only_modules_on_verify_path": not cold["enroll_only_modules_loaded"],
        },
    }
    merged = merge_results(results)
    print_main(merged, inprocess.OPERATIONS)
    if "dynamodb_local" in merged:
        print("\nThe same with DynamoDB on Amazon's DynamoDB Local (`make bench DYNAMODB=local`):")
        print_main(merged["dynamodb_local"], inprocess.OPERATIONS)
    if "peer" in merged:
        from bench.report import print_peer

        print_peer(merged["peer"])
    print(f"\n(make bench took {time.monotonic() - started:.0f} s; written to bench/results.json)")


def second_engine(requests: int) -> None:
    """`make bench DYNAMODB=local`: calls and latency with the table on DynamoDB Local, kept in
    bench/results.json beside moto's figures (cold start, package and cost do not depend on the engine)."""
    load_start = [round(x, 2) for x in os.getloadavg()]
    print("[DynamoDB Local] cloud calls per operation, then latency", file=sys.stderr, flush=True)
    counted = inprocess.count_calls()
    timed = inprocess.measure_latency(requests=requests)
    figures = {
        "calls": counted["calls"],
        "latency_ms": timed["latency_ms"],
        "skipped": {**counted["skipped"], **timed["skipped"]},
        "date": now_iso(),
        "machine": machine(load_start),
    }
    merge_results({"dynamodb_local": figures})
    print("\nWith DynamoDB on Amazon's DynamoDB Local (KMS and SNS on moto):")
    print_main(figures, inprocess.OPERATIONS)


if __name__ == "__main__":
    main()
