"""Cost per million logons, from the counted calls, the DynamoDB capacity they use, and measured time.

A logon with an authenticator is two API requests: POST /v1/logon (the decision) and
POST /v1/logon/verify (the code). Every price and assumption is returned next to the figure."""

from __future__ import annotations

import math

# us-east-1 list prices (USD), as AWS published them in 2025; not re-checked from this machine.
PRICES = {
    "api_gateway_rest_per_million_requests": 3.50,  # first 333 M requests a month
    "lambda_per_million_requests": 0.20,
    "lambda_per_gb_second": 0.0000166667,  # x86_64
    "dynamodb_per_million_wru": 0.625,  # on-demand, since 2024-11-01
    "dynamodb_per_million_rru": 0.125,
    "kms_per_10k_requests": 0.03,
    "sns_per_million_publishes": 0.50,
    "cloudwatch_logs_per_gb_ingested": 0.50,
}
LAMBDA_VCPU_MB = 1769  # Lambda gives a full vCPU at 1,769 MB and a proportional share below it
DYNAMODB_CALL_MS = 6.0  # assumed in-region round trip of one small DynamoDB call (p50)
KMS_CALL_MS = 10.0
LAMBDA_PLATFORM_LOG_BYTES = 300  # START, END and REPORT lines per invocation
COLD_START_RATE = 0.01  # assumed: one invocation in a hundred starts a new container


def memory_mb() -> tuple[int, str]:
    """The verify function's memory, as infra/package.py deploys it."""
    from infra.package import MEMORY_MB

    return MEMORY_MB["verify"], "infra/package.py MEMORY_MB"


def _invocation(calls: dict, own_ms: float, memory: int, log_bytes: float) -> dict:
    """Cost of one invocation (USD) by component, and its modelled billed duration."""
    cpu_scale = max(1.0, LAMBDA_VCPU_MB / memory)
    duration_ms = own_ms * cpu_scale + calls["dynamodb"] * DYNAMODB_CALL_MS + calls["kms"] * KMS_CALL_MS
    billed_ms = math.ceil(duration_ms)
    return {
        "billed_ms": billed_ms,
        "api_gateway": PRICES["api_gateway_rest_per_million_requests"] / 1e6,
        "lambda_requests": PRICES["lambda_per_million_requests"] / 1e6,
        "lambda_compute": memory / 1024 * billed_ms / 1000 * PRICES["lambda_per_gb_second"],
        "dynamodb_reads": calls["rru"] * PRICES["dynamodb_per_million_rru"] / 1e6,
        "dynamodb_writes": calls["wru"] * PRICES["dynamodb_per_million_wru"] / 1e6,
        "kms": calls["kms"] * PRICES["kms_per_10k_requests"] / 1e4,
        "sns": calls["sns"] * PRICES["sns_per_million_publishes"] / 1e6,
        "logs": (log_bytes + LAMBDA_PLATFORM_LOG_BYTES) / 1e9 * PRICES["cloudwatch_logs_per_gb_ingested"],
    }


def per_million_logons(calls: dict, latency: dict, cold: dict, log_bytes: float) -> dict:
    logon, verify, verify_cold = calls.get("logon"), calls.get("verify"), calls.get("verify_cold")
    if not (logon and verify and latency.get("logon") and latency.get("verify")):
        return {"usd": None, "why": "logon or verify was not measured"}
    memory, memory_source = memory_mb()
    parts = [
        _invocation(logon, latency["logon"]["own_p50"], memory, log_bytes),
        _invocation(verify, latency["verify"]["own_p50"], memory, log_bytes),
    ]
    breakdown = {k: sum(p[k] for p in parts) * 1e6 for k in parts[0] if k != "billed_ms"}
    # A new container: INIT is billed (since 2025-08), and the first verify loads the policy and the
    # tenant's data key (the extra GetItems and the KMS Decrypt of verify_cold).
    cold_extra = 0.0
    if verify_cold and cold.get("app"):
        init_ms = (cold["bare"] + cold["import_own"]) * max(1.0, LAMBDA_VCPU_MB / memory)
        extra = {k: verify_cold[k] - verify[k] for k in ("dynamodb", "kms", "sns", "rru", "wru")}
        extra_cost = _invocation(extra, 0.0, memory, 0.0)
        cold_extra = (
            memory / 1024 * math.ceil(init_ms) / 1000 * PRICES["lambda_per_gb_second"]
            + extra_cost["dynamodb_reads"]
            + extra_cost["dynamodb_writes"]
            + extra_cost["kms"]
            + memory / 1024 * math.ceil(extra["dynamodb"] * DYNAMODB_CALL_MS + extra["kms"] * KMS_CALL_MS) / 1000
            * PRICES["lambda_per_gb_second"]
        )
    breakdown["cold_starts"] = cold_extra * COLD_START_RATE * 2 * 1e6
    total = sum(breakdown.values())
    return {
        "usd": round(total, 2),
        "breakdown_usd": {k: round(v, 3) for k, v in breakdown.items()},
        "billed_ms": {"logon": parts[0]["billed_ms"], "verify": parts[1]["billed_ms"]},
        "prices_usd": PRICES,
        "assumptions": [
            "a logon = POST /v1/logon + POST /v1/logon/verify (user with an authenticator, no trusted device)",
            f"Lambda memory {memory} MB ({memory_source}), x86_64; CPU share {memory}/{LAMBDA_VCPU_MB} of a vCPU, "
            "so own time measured here (one core ~ one vCPU) is scaled by "
            f"{max(1.0, LAMBDA_VCPU_MB / memory):.2f}",
            f"billed duration = scaled own p50 + {DYNAMODB_CALL_MS:g} ms per DynamoDB call + "
            f"{KMS_CALL_MS:g} ms per KMS call (assumed in-region round trips)",
            "DynamoDB on-demand; capacity from the sizes of the items each call read and wrote "
            "(reads per 4 KB, writes per 1 KB, transactional x2, ConditionCheck billed as a write)",
            "API Gateway REST API (what Chalice deploys); an HTTP API would be $1.00 per million requests",
            f"CloudWatch Logs: our access line (measured) + {LAMBDA_PLATFORM_LOG_BYTES} bytes of Lambda's "
            "START/END/REPORT lines per invocation; storage and retention not counted",
            f"cold starts: {COLD_START_RATE:.0%} of invocations (a guess); each bills INIT "
            "(bare + own import, scaled) and the first verify's extra GetItems and KMS Decrypt",
            "not counted: data transfer, the KMS key's $1/month, the Secrets Manager secret, free tiers",
        ],
    }
