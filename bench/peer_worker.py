"""privacyIDEA's side of `make bench-peer`, run in its own venv (bench/.peer-venv) and driven over stdin.

Sets up privacyIDEA 3.14 as a production install would be (SQLite file, encryption key, signed audit
log, a user resolver and a realm), enrolls one TOTP token per user with a known secret, then answers
one JSON command per line on stdin with one JSON line on stdout:

    {"op": "check", "kind": "valid" | "wrong", "users": ["u0", ...]}
        -> {"ms": [...], "cpu_ms": [...], "sql": [...], "sql_ms": [...], "ok": [...]}   one per user, in order
    {"op": "quit"}

Each check is POST /validate/check through Flask's test client, in-process; the time is the request
alone (the code is computed before the clock starts). SQL statements are counted, and the time spent
executing them measured, with SQLAlchemy's `before_cursor_execute` / `after_cursor_execute` events;
commits and rollbacks are timed too and counted as database time. Only the standard library and
privacyIDEA's own dependencies are used here: this file never imports the project's code."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import struct
import sys
import time
import warnings
from pathlib import Path

REALM = "mail"
RESOLVER = "mailusers"
PERIOD = 30


def totp(secret: bytes, now: float, offset: int = 0) -> str:
    counter = int(now // PERIOD) + offset
    digest = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    start = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[start : start + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def write_config(work: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    work.mkdir(parents=True, exist_ok=True)
    (work / "enckey").write_bytes(secrets.token_bytes(96))  # what `pi-manage setup create_enckey` writes
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # `create_audit_keys`' default
    (work / "private.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    (work / "public.pem").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    cfg = work / "pi.cfg"
    cfg.write_text(
        "\n".join(
            [
                f"SQLALCHEMY_DATABASE_URI = {'sqlite:///' + str(work / 'pi.sqlite')!r}",
                f"SECRET_KEY = {secrets.token_hex(24)!r}",
                f"PI_PEPPER = {secrets.token_hex(24)!r}",
                f"PI_ENCFILE = {str(work / 'enckey')!r}",
                f"PI_AUDIT_KEY_PRIVATE = {str(work / 'private.pem')!r}",
                f"PI_AUDIT_KEY_PUBLIC = {str(work / 'public.pem')!r}",
                f"PI_LOGFILE = {str(work / 'privacyidea.log')!r}",
                "PI_LOGLEVEL = 40",
                "PI_NODE = 'bench'",
                "PI_NODE_UUID = '6c1b2f7e-9a0d-4a51-8d4e-2b7f3a9c1e10'",
                f"PI_UUID_FILE = {str(work / 'uuid.txt')!r}",
                "",
            ]
        )
    )
    return cfg


def setup(work: Path, users: int):
    cfg = write_config(work)
    os.environ["PRIVACYIDEA_CONFIGFILE"] = str(cfg)
    from privacyidea.app import create_app
    from privacyidea.models import db

    app = create_app("production", config_file=str(cfg), silent=True)
    names = [f"u{i}" for i in range(users)]
    (work / "passwd").write_text("".join(f"{n}:x:{1000 + i}:1000:{n}:/home/{n}:/bin/sh\n" for i, n in enumerate(names)))
    secrets_by_user = {}
    with app.app_context():
        db.create_all()
        db.session.commit()
        from privacyidea.lib.realm import set_default_realm, set_realm
        from privacyidea.lib.resolver import save_resolver
        from privacyidea.lib.token import init_token
        from privacyidea.lib.user import User

        save_resolver({"resolver": RESOLVER, "type": "passwdresolver", "fileName": str(work / "passwd")})
        set_realm(REALM, [{"name": RESOLVER}])
        set_default_realm(REALM)
        for name in names:
            secret = secrets.token_bytes(20)
            init_token(
                {"type": "totp", "otpkey": secret.hex(), "serial": f"TOTP-{name}", "genkey": 0, "timeStep": PERIOD},
                user=User(name, REALM),
            )
            secrets_by_user[name] = secret
        db.session.commit()
    return app, secrets_by_user


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--users", type=int, default=240)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    app, keys = setup(Path(args.work), args.users)
    from privacyidea.models import db
    from sqlalchemy import event

    statements = [0]
    sql_seconds = [0.0]
    sql_started = [0.0]
    with app.app_context():
        engine = db.engine

    def before(*_args, **_kwargs):
        statements[0] += 1
        sql_started[0] = time.perf_counter()

    def after(*_args, **_kwargs):
        sql_seconds[0] += time.perf_counter() - sql_started[0]

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)

    def timed(call):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                sql_seconds[0] += time.perf_counter() - t0

        return wrapper

    # A commit is the database's time too (SQLite syncs the file there): count it with the statements.
    engine.dialect.do_commit = timed(engine.dialect.do_commit)
    engine.dialect.do_rollback = timed(engine.dialect.do_rollback)
    client = app.test_client()
    import privacyidea

    version = getattr(privacyidea, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("privacyidea")
    ready = {"ready": True, "setup_s": round(time.perf_counter() - started, 2), "version": version}
    print(json.dumps(ready), flush=True)

    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "quit":
            break
        out = {"ms": [], "cpu_ms": [], "sql": [], "sql_ms": [], "ok": []}
        for name in command["users"]:
            now = time.time()
            code = totp(keys[name], now)
            if command["kind"] == "wrong":
                # A well-formed code that no step in privacyIDEA's default window (+-180 s) accepts.
                window = {totp(keys[name], now, k) for k in range(-8, 9)}
                code = next(c for c in (f"{(int(code) + d) % 1_000_000:06d}" for d in range(1, 50)) if c not in window)
            statements[0] = 0
            sql_seconds[0] = 0.0
            c0 = time.thread_time()
            t0 = time.perf_counter()
            response = client.post("/validate/check", data={"user": name, "realm": REALM, "pass": code})
            elapsed = (time.perf_counter() - t0) * 1000
            out["cpu_ms"].append((time.thread_time() - c0) * 1000)
            body = response.get_json(silent=True) or {}
            value = (body.get("result") or {}).get("value")
            out["ms"].append(elapsed)
            out["sql"].append(statements[0])
            out["sql_ms"].append(sql_seconds[0] * 1000)
            out["ok"].append(response.status_code == 200 and value is (command["kind"] == "valid"))
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
