"""`python -m infra.signing_key new|announce|promote|retire`: the mfa_token signing-key secret's value, for
`aws secretsmanager put-secret-value`. `new` prints a first key; the others read the secret's value on stdin
and print the next state of a rotation (mfa_core/signing.py): announce a new key, sign with it while the
old one still verifies, retire the old one. Between two steps wait signing.REFRESH_SECONDS plus the JWKS
cache (300 s each), so every container and every verifier has seen the state before."""

from __future__ import annotations

import argparse
import sys

from mfa_core import signing
from mfa_core.config import ConfigError

STEPS = ("new", "announce", "promote", "retire")


def next_state(step: str, value: str = "") -> str:
    if step == "new":
        return signing.to_secret(signing.new_key())
    stages = signing.stages_of(value)
    if step == "announce":
        if "next" in stages:
            raise ConfigError("a new key is announced already: promote it first")
        return signing.to_secret(stages["current"], previous=stages.get("previous"), after=signing.new_key())
    if step == "promote":
        if "next" not in stages:
            raise ConfigError("no key is announced: announce one first")
        return signing.to_secret(stages["next"], previous=stages["current"])
    if "next" in stages:
        raise ConfigError("promote the announced key before retiring the previous one")
    return signing.to_secret(stages["current"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("step", choices=STEPS)
    args = parser.parse_args()
    try:
        print(next_state(args.step, "" if args.step == "new" else sys.stdin.read()))
    except ConfigError as e:
        sys.exit(f"signing_key {args.step}: {e}")


if __name__ == "__main__":
    main()
