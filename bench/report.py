"""bench/results.json (merged, so `make bench` and `make bench-peer` keep each other's figures) and the
tables both print."""

from __future__ import annotations

import datetime
import json

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
    cold = results["cold_start_ms"]
    print(f"\nCold start (median of {cold['runs']} fresh interpreters; first verify against a moto server on loopback;"
          f" bytecode {cold.get('bytecode', '')})")
    cpu = cold.get("cpu", {})
    print(f"  bare import boto3 + chalice   {cold['bare']:8.1f} ms   (CPU {_ms(cpu.get('bare'))} ms)")
    fastest = cold.get("min", {})
    print(f"  import app (our own import)   {cold['import_own']:8.1f} ms   (CPU {_ms(cpu.get('import_own'))} ms,"
          f" fastest run {_ms(fastest.get('import_own'))} ms)"
          f"   target <= 100 ms; {_ms(cold.get('import_own_without_bytecode'))} ms if mfa_core had no bytecode")
    print(f"  first verify                  {cold['first_verify']:8.1f} ms   (CPU {_ms(cpu.get('first_verify'))} ms)"
          f" = boto3 clients "
          f"{cold['first_verify_clients']:.1f} + {cold['first_verify_aws_calls']} AWS calls "
          f"{cold['first_verify_aws']:.1f} + rest {cold['first_verify_rest']:.1f}")
    if cold.get("first_verify_client_ms"):
        print("  boto3 clients made in the first verify: "
              + ", ".join(f"{k} {v:.1f} ms" for k, v in cold["first_verify_client_ms"].items()))
    print(f"  app (all of it)               {cold['app']:8.1f} ms   own = app - bare = {cold['own']:.1f} ms")
    breakdown = cold.get("import_breakdown") or {}
    if breakdown:
        third = ", ".join(f"{k} {v:.1f}" for k, v in breakdown["third_party_ms"].items())
        print(f"  import app under -X importtime: our modules {breakdown['ours_self_ms']:.1f} ms, {third}")
    loaded = cold["enroll_only_modules_loaded"]
    print(f"  enroll-only modules loaded on the verify path: {', '.join(loaded) if loaded else 'none'}")

    pkg = results["package_bytes"]
    print(f"\nPackage ({pkg.get('source')})")
    if pkg.get("function") is not None:
        print(f"  function zip {pkg['function']:,} bytes" + (
            f" ({pkg['function_unzipped']:,} unzipped)" if pkg.get("function_unzipped") else ""))
    if pkg.get("layer") is not None:
        print(f"  layer zip    {pkg['layer']:,} bytes" + (
            f" ({pkg['layer_unzipped']:,} unzipped)" if pkg.get("layer_unzipped") else ""))
    split = pkg.get("function_split") or pkg.get("layer_split")
    if split:
        biggest = ", ".join(f"{k} {v:,}" for k, v in split["largest_third_party"].items())
        print(f"  compressed: our code {split['ours']:,}, third-party {split['third_party']:,} ({biggest})")

    cost = results["cost"]
    print(f"\nCost per million logons: ${results['cost_per_million_logons_usd']}")
    if cost.get("breakdown_usd"):
        print("  " + ", ".join(f"{k} ${v:.3f}" for k, v in cost["breakdown_usd"].items()))
        for line in cost["assumptions"]:
            print(f"  - {line}")


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
