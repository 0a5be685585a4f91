"""bench/results.json (merged, so `make bench` and `make bench-peer` keep each other's figures) and the
tables both print."""

from __future__ import annotations

import datetime
import json
import sys
from typing import TextIO

from bench.harness import ROOT

RESULTS = ROOT / "bench" / "results.json"


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_results(update: dict) -> dict:
    results = {}
    if RESULTS.exists():
        try:
            results = json.loads(RESULTS.read_text())
        except ValueError:
            results = {}
    results.update(update)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    return results


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_main(results: dict, operations: tuple[str, ...]) -> None:
    calls, latency = results["calls"], results["latency_ms"]
    skipped = results.get("skipped", {})
    extra = [name for name in calls if name not in operations and calls[name]]
    print(f"\nCloud calls and latency per operation - {results['date']}, {results['machine']['cores']} cores, "
          f"load {results['machine']['loadavg_start']} -> {results['machine']['loadavg_end']}")
    print("latency: in-process (chalice.test.Client + moto), ms; own = total minus time inside botocore calls "
          "(moto's work included there)")
    print("own cpu = the request's CPU time minus botocore's (robust to other load on the machine)")
    header = f"{'operation':24} {'dynamodb':>8} {'kms':>4} {'sns':>4} {'RRU':>5} {'WRU':>5} " \
             f"{'p50':>7} {'p90':>7} {'p99':>7} {'own p50':>8} {'own p99':>8} {'own cpu':>8} {'n':>4}"
    print(header)
    print("-" * len(header))
    for name in (*operations, *extra, "health"):
        c = calls.get(name)
        lat = latency.get(name)
        if c is None and lat is None:
            if name in operations:
                print(f"{name:24} {'null: ' + skipped.get(name, 'not measured')}")
            continue
        cells = (
            f"{c['dynamodb']:>8} {c['kms']:>4} {c['sns']:>4} {c['rru']:>5g} {c['wru']:>5g}"
            if c
            else f"{'':>8} {'':>4} {'':>4} {'':>5} {'':>5}"
        )
        timing = (
            f"{_ms(lat['p50']):>7} {_ms(lat['p90']):>7} {_ms(lat['p99']):>7} {_ms(lat['own_p50']):>8} "
            f"{_ms(lat['own_p99']):>8} {_ms(lat.get('own_cpu_p50')):>8} {lat['n']:>4}"
            if lat
            else ""
        )
        print(f"{name:24} {cells} {timing}")

    if "cold_start_ms" not in results:  # a second engine's figures: calls and latency only
        return
    print_cold_start(results["cold_start_ms"])
    print_package(results["package_bytes"])

    cost = results["cost"]
    print(f"\nCost per million logons: ${results['cost_per_million_logons_usd']}")
    if cost.get("breakdown_usd"):
        print("  " + ", ".join(f"{k} ${v:.3f}" for k, v in cost["breakdown_usd"].items()))
        for line in cost["assumptions"]:
            print(f"  - {line}")


def _target(value: float, target: float) -> str:
    return f"target <= {target:g} ms: {'met' if value <= target else 'NOT met'}"


def print_cold_start(cold: dict, file: TextIO = sys.stdout) -> None:
    def say(line: str = "") -> None:
        print(line, file=file)

    bare, cpu, targets = cold["bare_app"], cold["cpu"], cold["targets_ms"]
    say(f"\nCold start of {cold['entry']} beside a bare Chalice app ({bare['module']}), in one run: median of "
        f"{cold['runs']} fresh interpreters each (Python {cold.get('python', '?')}), alternating; first request "
        f"against a moto server on loopback; {cold['bytecode']}")
    say(f"  import boto3 + chalice (bare Lambda)  {cold['bare']:8.1f} ms   (CPU {_ms(cpu['bare'])} ms)")
    say(f"  own import of {cold['entry']:22} {cold['import_own']:8.1f} ms   (CPU {_ms(cpu['import_own'])} ms, "
        f"fastest {_ms(cold['min']['import_own'])} ms; the bare app's {bare['import']:.1f} ms)   "
        + _target(cold["import_own"], targets["import_own"]))
    say(f"  first verify, own share               {cold['first_verify_own']:8.1f} ms   (CPU "
        f"{_ms(cpu['first_verify_own'])} ms) = ours {cold['first_verify']:.1f} - the bare app's first request "
        f"{bare['first']:.1f}, paired run by run   " + _target(cold["first_verify_own"], targets["first_verify_own"]))
    say(f"    ours: boto3 clients {cold['first_verify_clients']:.1f} ("
        + ", ".join(f"{k} {v:.1f}" for k, v in cold["first_verify_client_ms"].items())
        + f") + {cold['first_verify_aws_calls']} AWS calls {cold['first_verify_aws']:.1f} + rest "
        f"{cold['first_verify_rest']:.1f}")
    say(f"    bare: boto3 client {bare['first_clients']:.1f} + {bare['first_aws_calls']} AWS call "
        f"{bare['first_aws']:.1f}")
    say(f"  app (all of it)                       {cold['app']:8.1f} ms   own = app - bare = {cold['own']:.1f} ms")
    say("  own import of every group's entry module: " + ", ".join(
        f"{g} {ms:.1f} ms (CPU {cold['groups_import_own_cpu'][g]:.1f})" for g, ms in cold["groups_import_own"].items()))
    breakdown = cold.get("import_breakdown") or {}
    if breakdown:
        third = ", ".join(f"{k} {v:.1f}" for k, v in breakdown["third_party_ms"].items())
        say(f"  {cold['entry']} under -X importtime: our modules {breakdown['ours_self_ms']:.1f} ms, {third}")
    loaded = cold["enroll_only_modules_loaded"]
    say(f"  on the verify path: enroll-only modules {', '.join(loaded) if loaded else 'none'}; "
        f"PyYAML {'loaded' if cold['yaml_loaded'] else 'not loaded'}")


def print_package(pkg: dict, file: TextIO = sys.stdout) -> None:
    print(f"\nPackage ({pkg.get('source')})", file=file)
    if pkg.get("function") is not None:
        print(f"  function zip {pkg['function']:,} bytes" + (
            f" ({pkg['function_unzipped']:,} unzipped)" if pkg.get("function_unzipped") else ""), file=file)
    if pkg.get("layer") is not None:
        print(f"  layer zip    {pkg['layer']:,} bytes" + (
            f" ({pkg['layer_unzipped']:,} unzipped)" if pkg.get("layer_unzipped") else ""), file=file)
    split = pkg.get("function_split") or pkg.get("layer_split")
    if split:
        biggest = ", ".join(f"{k} {v:,}" for k, v in split["largest_third_party"].items())
        print(f"  compressed: our code {split['ours']:,}, third-party {split['third_party']:,} ({biggest})", file=file)


def print_peer(peer: dict) -> None:
    print(f"\nprivacyIDEA {peer['privacyidea_version']} /validate/check vs our POST /v1/logon/verify - "
          f"{peer['date']}, {peer['machine']['cores']} cores, load {peer['machine']['loadavg']}")
    header = f"{'':28} {'privacyIDEA':>12} {'ours':>10} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    rows = [
        ("valid code, p50 ms", peer["privacyidea_p50_ms"], peer["verify_p50_ms"], peer["ratio"]),
        ("wrong code, p50 ms", peer["privacyidea_wrong_p50_ms"], peer["verify_wrong_p50_ms"], peer["ratio_wrong"]),
        ("valid code, CPU p50 ms", peer["privacyidea_cpu_p50_ms"], peer["verify_cpu_p50_ms"], peer["ratio_cpu"]),
        ("valid code, own p50 ms", peer["privacyidea_own_p50_ms"], peer["verify_own_p50_ms"], peer["ratio_own"]),
    ]
    for label, theirs, ours, ratio in rows:
        print(f"{label:28} {theirs:12.2f} {ours:10.2f} {ratio:6.1f}x")
    sql = peer["privacyidea_sql_per_check"]
    calls = peer["verify_cloud_calls"]

    def fmt(ops: dict) -> str:
        return " + ".join(f"{n} {op.split(':')[1]}" for op, n in ops.items())

    print(f"{'per valid check':28} {str(sql['valid']) + ' SQL':>12}   {fmt(calls['valid'])}")
    print(f"{'per wrong check':28} {str(sql['wrong']) + ' SQL':>12}   {fmt(calls['wrong'])}")
    print(f"n = {peer['n']['valid']} valid + {peer['n']['wrong']} wrong per side; {peer['how']}")
