"""`make code SECRET=...`: print the current TOTP code for a secret, as an authenticator app would show it.

With --next, wait for the next 30 s step first (a code can be used once: confirm's code won't log on)."""
from __future__ import annotations

import argparse
import base64
import binascii
import sys
import time

from mfa_core import totp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("secret", help="the secret from enroll (spaces allowed)")
    parser.add_argument("--next", action="store_true", help="wait for the next step's code")
    args = parser.parse_args()
    secret = args.secret.replace(" ", "").upper()
    try:
        if not secret or not base64.b32decode(secret + "=" * (-len(secret) % 8)):
            raise ValueError
    except (ValueError, binascii.Error):
        sys.exit("make code: SECRET= must be the secret enroll showed (letters A-Z and digits 2-7, spaces allowed)")
    if args.next:
        time.sleep(30 - time.time() % 30 + 0.5)
    print(totp.code_at(secret, totp.step_at(time.time(), 30), algorithm="SHA1", digits=6))


if __name__ == "__main__":
    main()
