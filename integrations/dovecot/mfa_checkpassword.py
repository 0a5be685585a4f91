#!/usr/bin/env python3
"""Dovecot checkpassword program: a mail client's password is an app password of the MFA service.

Dovecot (2.3, `passdb { driver = checkpassword }`) runs this once per login with the mailbox and the password
on fd 3 ("user\\0password\\0timestamp\\0") and Dovecot's checkpassword-reply program as the last arguments:

    mfa_checkpassword.py SETTINGS_FILE REPLY_PROGRAM...

It finds the mailbox's tenant in a domain -> tenant map, mints a short-lived `mfa:gateway` token with its own
key, and asks `POST /v1/app-passwords/check`. The exit status is Dovecot's answer:

- `{"valid": true}`: exec REPLY_PROGRAM (exit 0) -> the login succeeds;
- `{"valid": false}`, a 400, an unmapped domain or a login that is not an address: exit 1 -> refused
  (IMAP `NO [AUTHENTICATIONFAILED]`, SMTP `535 5.7.8`);
- 429 (throttled), 5xx, a timeout, the service unreachable, our token refused (401/403: a wrong key) or any
  other surprise: exit 111 -> a temporary failure (IMAP `NO [UNAVAILABLE]`, SMTP `454 4.7.0`), never a login.

Only the standard library for HS256; RS256/ES256 import PyJWT (with `cryptography`) when used. Nothing here
writes the password or the token anywhere: stderr (Dovecot's log) gets one line naming the outcome only.

The settings file holds `name = value` lines (`#` starts a comment):

    domains = /etc/dovecot/mfa-domains     # "acme.example acme" lines: mail domain, tenant
    url = https://abc123.execute-api.eu-west-1.amazonaws.com/api   # the deployment; /v1/... is appended
    key = /etc/dovecot/mfa-gateway.key     # HS256: the deployment's secret; RS256/ES256: a private PEM
    algorithm = HS256                      # or RS256, ES256 (default HS256)
    kid =                                  # optional `kid` header
    gateway = dovecot-imap1                # the token's `sub`, shown in the audit trail (default: dovecot)
    timeout = 5                            # seconds for each network step of the check (default 5)

`url`, `key`, `algorithm` and `kid` may be given per tenant as `TENANT.url = ...` (one stack per tenant has
one URL, and with HS256 its own secret); a tenant without its own uses the plain name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
import time

REFUSED = 1  # checkpassword: the password is not acceptable
TEMPORARY = 111  # checkpassword: a temporary problem; Dovecot answers a temporary failure
TOKEN_SECONDS = 60  # the gateway token's life: one check needs one request
ALGORITHMS = ("HS256", "RS256", "ES256")
GLOBAL = ("domains", "gateway", "timeout")  # the settings file's names
PER_TENANT = ("url", "key", "algorithm", "kid")  # these may also be given as TENANT.name
MAX_INPUT = 512  # the checkpassword interface's limit for fd 3
MAX_ANSWER = 65536


class Temporary(Exception):
    """The check could not be made: Dovecot must answer a temporary failure."""


def log(message: str) -> None:
    """One line to Dovecot's log (the auth process keeps our stderr). Never pass a password or token here."""
    print(f"mfa-checkpassword: {message}", file=sys.stderr, flush=True)


def read_settings(path: str) -> dict:
    """The settings file as a dict; `TENANT.url` style names are kept as they are, checked like the others."""
    settings = {"gateway": "dovecot", "algorithm": "HS256", "timeout": "5", "kid": ""}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, sep, value = (part.strip() for part in line.partition("="))
            tenant, dot, base = name.rpartition(".")
            if not sep or base not in (PER_TENANT if dot else PER_TENANT + GLOBAL) or (dot and not tenant):
                raise ValueError(f"{path}:{number}: expected one of {', '.join(GLOBAL + PER_TENANT)} = value "
                                 "(url, key, algorithm and kid may be TENANT.url ...)")
            if base == "url":
                try:
                    value = parse_url(value)
                except ValueError as e:
                    raise ValueError(f"{path}:{number}: {e}") from None
            if base == "algorithm" and value not in ALGORITHMS:
                raise ValueError(f"{path}:{number}: algorithm must be one of {', '.join(ALGORITHMS)}")
            settings[name] = value
    if not settings.get("domains"):
        raise ValueError(f"{path}: domains is required")
    settings["timeout"] = float(settings["timeout"])
    return settings


def for_tenant(settings: dict, tenant: str) -> dict:
    """The settings one tenant's check uses: `TENANT.name` where given, else `name`."""
    chosen = dict(settings)
    for name in PER_TENANT:
        chosen[name] = settings.get(f"{tenant}.{name}", settings.get(name))
        if name in ("url", "key") and not chosen[name]:
            raise ValueError(f"no {name} (nor {tenant}.{name}) for tenant {tenant}")
    return chosen


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL. By hand: urllib and http.client would double the
    program's start-up, which every login pays."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise ValueError("url must be an http(s) URL")
    authority, slash, path = rest.partition("/")
    if "@" in authority or "?" in path or "#" in path:
        raise ValueError("url must be scheme://host[:port][/path], without credentials, query or fragment")
    if authority.startswith("["):  # an IPv6 literal
        host, _, port = authority[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = authority.partition(":")
    if not host or (port and not port.isdigit()):
        raise ValueError("url must name a host (and a numeric port)")
    return scheme, host, int(port) if port else (443 if scheme == "https" else 80), "/" + path.rstrip("/")


def read_domains(path: str) -> dict[str, str]:
    """The domain -> tenant map: one `domain tenant` pair a line, `#` comments."""
    domains = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) != 2:
                raise ValueError(f"{path}:{number}: expected 'domain tenant'")
            domains[fields[0].lower()] = fields[1]
    return domains


def tenant_of(user: str, domains: dict[str, str]) -> str | None:
    local, at, domain = user.rpartition("@")
    if not at or not local:
        return None
    return domains.get(domain.lower())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def gateway_token(settings: dict, tenant: str, now: float) -> str:
    """The `mfa:gateway` token for one check, signed with the gateway's key."""
    claims = {
        "sub": settings["gateway"],
        "tenant": tenant,
        "scope": "mfa:gateway",
        "aud": "mfa",
        "iat": int(now),
        "exp": int(now) + TOKEN_SECONDS,
    }
    with open(settings["key"], "rb") as f:
        key = f.read()
    algorithm = settings["algorithm"]
    header = {"alg": algorithm, "typ": "JWT"}
    if settings["kid"]:
        header["kid"] = settings["kid"]
    if algorithm != "HS256":
        import jwt  # PyJWT with cryptography: only the asymmetric keys need it

        return jwt.encode(claims, key, algorithm=algorithm, headers=header)
    secret = key.strip()
    signing_input = f"{_b64(json.dumps(header, separators=(',', ':')).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def check(settings: dict, tenant: str, user: str, password: str) -> bool:
    """The service's answer: True (valid) or False (refused). Raises Temporary when there is no answer."""
    try:
        token = gateway_token(settings, tenant, time.time())
    except (OSError, ValueError, ImportError) as e:
        raise Temporary(f"cannot sign the gateway token ({type(e).__name__}): check the key file") from None
    body = json.dumps({"user": user, "password": password}).encode()
    try:
        status, answer = post(settings["url"], "/v1/app-passwords/check", token, body, settings["timeout"])
    except OSError as e:  # refused, reset, timed out, TLS: all OSErrors
        raise Temporary(f"the service is unreachable ({type(e).__name__})") from None
    except ValueError:
        raise Temporary("the service's answer is not HTTP") from None
    if status == 200:
        try:
            valid = json.loads(answer)["valid"]
        except (ValueError, KeyError, TypeError):
            raise Temporary("the service answered 200 without a verdict") from None
        if valid is not True and valid is not False:
            raise Temporary("the service answered 200 without a verdict")
        return valid
    if status == 400:  # a user or password the service cannot take (too long, not an address): not a login
        log(f"refused: the service answered 400 for {user}")
        return False
    if status == 429:
        raise Temporary(f"checks for {user} are throttled (429): the client may retry later")
    if status in (401, 403):
        raise Temporary(f"the service refused the gateway token ({status}): check key, algorithm and tenant map")
    raise Temporary(f"the service answered {status}")


def post(url: tuple[str, str, int, str], path: str, token: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """(status, body) of one POST by the standard library's HTTP client; `timeout` seconds for each step
    (connect, send, each read)."""
    import http.client  # with ssl below: only imported here, where a check is really sent

    scheme, host, port, base = url
    if scheme == "https":
        import ssl

        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "User-Agent": "mfa-checkpassword",
    }
    try:
        connection.request("POST", f"{base.rstrip('/')}{path}", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(MAX_ANSWER)
    except http.client.HTTPException as e:
        raise ValueError("not an HTTP answer") from e
    finally:
        connection.close()


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        log("usage: mfa_checkpassword.py SETTINGS_FILE REPLY_PROGRAM...")
        return 2
    settings_path, reply = argv[1], argv[2:]
    try:
        with os.fdopen(3, "rb") as fd3:
            data = fd3.read(MAX_INPUT + 1)
    except OSError:
        log("no request on fd 3: this program is run by Dovecot's checkpassword passdb")
        return 2
    parts = data.split(b"\0")
    if len(data) > MAX_INPUT or len(parts) < 3:
        return REFUSED
    user, password = parts[0].decode("utf-8", "replace"), parts[1].decode("utf-8", "replace")
    if os.environ.get("AUTHORIZED"):  # a userdb lookup without a password: use a userdb of your own
        log("checkpassword is a passdb only here: configure a static or prefetch userdb")
        return TEMPORARY
    try:
        settings = read_settings(settings_path)
        tenant = tenant_of(user, read_domains(settings["domains"]))
        if tenant is None:
            log(f"refused: no tenant for the domain of {user!r}")
            return REFUSED
        settings = for_tenant(settings, tenant)
    except (OSError, ValueError) as e:
        log(f"temporary failure: bad configuration: {e}")
        return TEMPORARY
    try:
        valid = check(settings, tenant, user, password)
    except Temporary as e:
        log(f"temporary failure: {e}")
        return TEMPORARY
    if not valid:
        return REFUSED
    env = dict(os.environ, USER=user)
    try:
        os.execve(reply[0], reply, env)  # noqa: S606 - Dovecot's checkpassword-reply: `user=...` back on fd 4
    except OSError as e:
        log(f"temporary failure: cannot run {reply[0]} ({e.strerror})")
    return TEMPORARY


def run(argv: list[str]) -> int:
    """main, with anything unforeseen answered as a temporary failure (never a login, never a traceback that
    could carry what the client sent)."""
    try:
        return main(argv)
    except Exception as e:  # noqa: BLE001
        log(f"temporary failure: {type(e).__name__}")
        return TEMPORARY


if __name__ == "__main__":
    sys.exit(run(sys.argv))
