"""`make token USER=... TENANT=... SCOPE=...`: print a caller token signed with the local run's key."""

from __future__ import annotations

import argparse
import sys
import time

from functions.dev import claims_of, dev_token
from infra.local import LOCAL_ENV
from mfa_core.config import Settings
from mfa_core.errors import InvalidRequest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", default="alice@example.com")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--scope", default="mfa:settings")
    args = parser.parse_args()
    try:
        user, tenant, scope = claims_of(args.user, args.tenant, args.scope)
    except InvalidRequest as e:
        sys.exit(f"make token: {e.message}")
    print(dev_token(Settings.from_environ(LOCAL_ENV), user, tenant, scope, time.time()))


if __name__ == "__main__":
    main()
