"""One cold start, as Lambda does it: a fresh interpreter imports boto3 and chalice (bare), then the entry
module named by the first argument (e.g. functions.entry.verify, or bench.bare_app), then, when an event
file is the second argument, serves it (an API Gateway proxy event) with the module's `app`. Prints one
JSON line.

Run by bench/coldstart.py; imports nothing of the benchmark."""

import sys
import time

started, started_cpu = time.perf_counter(), time.process_time()
import boto3  # noqa: E402
import chalice  # noqa: E402, F401

bare, bare_cpu = time.perf_counter(), time.process_time()
# __import__, not importlib.import_module: -X importtime only sees imports made through the import statement's path.
__import__(sys.argv[1])
entry = sys.modules[sys.argv[1]]

imported, imported_cpu = time.perf_counter(), time.process_time()

import json  # noqa: E402  (already loaded by boto3: free)

ENROLL_ONLY = ("qrcode", "png", "PIL")
sample = {
    "bare_ms": (bare - started) * 1000,
    "import_ms": (imported - bare) * 1000,
    # CPU time: what the same steps cost whatever else the machine is running
    "bare_cpu_ms": (bare_cpu - started_cpu) * 1000,
    "import_cpu_ms": (imported_cpu - bare_cpu) * 1000,
}

if len(sys.argv) > 2:
    with open(sys.argv[2]) as f:
        event = json.load(f)

    # Time spent creating boto3 clients and inside AWS calls during the first request, so the rest is ours.
    spent = {"clients": 0.0, "aws": 0.0, "calls": 0, "by_client": {}}
    _client = boto3.client
    _call_started = [0.0]

    def _start(**_):
        _call_started[0] = time.perf_counter()

    def _stop(**_):
        spent["aws"] += time.perf_counter() - _call_started[0]
        spent["calls"] += 1

    def timed_client(*args, **kwargs):
        t0 = time.perf_counter()
        client = _client(*args, **kwargs)
        took = time.perf_counter() - t0
        spent["clients"] += took
        name = args[0] if args else kwargs.get("service_name", "?")
        spent["by_client"][name] = spent["by_client"].get(name, 0.0) + took * 1000
        client.meta.events.register("provide-client-params", _start)
        client.meta.events.register("after-call", _stop)
        client.meta.events.register("after-call-error", _stop)
        return client

    boto3.client = timed_client

    class Context:
        function_name = "mfa-verify"
        function_version = "$LATEST"
        memory_limit_in_mb = 512
        aws_request_id = "cold-start"
        log_group_name = log_stream_name = "bench"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 30_000

    served_from, served_from_cpu = time.perf_counter(), time.process_time()
    response = entry.app(event, Context())
    served, served_cpu = time.perf_counter(), time.process_time()
    sample |= {
        "first_ms": (served - served_from) * 1000,
        "first_cpu_ms": (served_cpu - served_from_cpu) * 1000,
        "first_clients_ms": spent["clients"] * 1000,
        "first_aws_ms": spent["aws"] * 1000,
        "first_client_ms": spent["by_client"],
        "first_aws_calls": spent["calls"],
        "status": response["statusCode"],
    }

sample |= {
    "enroll_only_modules_loaded": sorted(m for m in sys.modules if m.split(".")[0] in ENROLL_ONLY),
    "yaml_loaded": "yaml" in sys.modules,
    "x509_loaded": "cryptography.x509" in sys.modules,
    "modules": len(sys.modules),
}
print(json.dumps(sample))
