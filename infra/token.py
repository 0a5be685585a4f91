"""`make token USER=... TENANT=... SCOPE=...`: print a caller token signed with the local run's key."""

from __future__ import annotations

import argparse
import time

from functions.dev import dev_token
from infra.local import LOCAL_ENV
from mfa_core.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--user", default="alice@example.com")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--scope", default="mfa:settings")
    args = parser.parse_args()
    print(dev_token(Settings.from_environ(LOCAL_ENV), args.user, args.tenant, args.scope, time.time()))


if __name__ == "__main__":
    main()
