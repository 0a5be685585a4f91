"""The composition root: settings, AWS clients and the ports the use cases talk through (store, vault,
messenger, policies), each created when first needed and then kept for the container's life.

Lazy because Lambda's environment (and moto in tests) must be in place before a boto3 client exists, and
because a client costs cold start: a function that never calls KMS never makes a KMS client."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from botocore.config import Config

from . import signing
from .config import ConfigError, Settings, settings
from .crypto import Vault
from .errors import Unavailable, aws_unavailable
from .notify import Messenger
from .storage.store import Store
from .usecases.policies import Policies

log = logging.getLogger(__name__)
# Standard retries (with backoff) before a call counts as failed; short timeouts so a stuck call
# fails within API Gateway's 29 s instead of hanging the logon.
AWS_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=2, read_timeout=5)
T = TypeVar("T")


class lazy(Generic[T]):  # lower case: a decorator, like the cached_property it replaces
    """A runtime attribute made on first use, once, under the runtime's lock. functools.cached_property
    has no lock since Python 3.12, and two threads making boto3 clients at once from the default
    session is what boto3 warns against. Once made, the value sits in the instance's __dict__, which
    Python reads before this (non-data) descriptor: later reads take no lock."""

    def __init__(self, make: Callable[[Runtime], T]) -> None:
        self._make = make
        self.__doc__ = make.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, rt: Runtime | None, owner: type | None = None) -> T:
        if rt is None:
            return self  # type: ignore[return-value]
        with rt._making:
            if self._name not in rt.__dict__:
                rt.__dict__[self._name] = self._make(rt)
        return rt.__dict__[self._name]


class Reread(Generic[T]):
    """A value read from Secrets Manager, read again once `seconds` have passed, so a changed secret
    reaches every running container within that time. A failed re-read (Unavailable) keeps the value
    in hand; a failed first read is the request's 503. `seconds=None`: read once."""

    def __init__(self, read: Callable[[], T], what: str, seconds: float | None = signing.REFRESH_SECONDS) -> None:
        self._read = read
        self._what = what
        self._seconds = math.inf if seconds is None else seconds
        self._held: tuple[float, T] | None = None  # (read again from, value)
        self._lock = threading.Lock()

    def get(self, now: float) -> T:
        held = self._held
        if held is not None and held[0] > now:
            return held[1]
        with self._lock:  # one read per refresh, however many requests ask at once
            held = self._held
            if held is None or held[0] <= now:
                try:
                    value = self._read()
                except Unavailable:
                    if held is None:
                        raise
                    log.warning("%s not re-read: the ones in hand stay until the next try", self._what)
                    value = held[1]
                self._held = held = (now + self._seconds, value)
        return held[1]


class Runtime:
    def __init__(
        self, settings: Settings, *, aws_config: Config = AWS_CONFIG, clock: Callable[[], float] = time.time
    ) -> None:
        self._settings = settings
        self.clock = clock
        self._aws_config = aws_config
        self._making = threading.RLock()  # an RLock: making the store makes the DynamoDB client
        self._keyring = Reread(
            self._read_keyring, "signing keys", None if settings.signing_key_arn is None else signing.REFRESH_SECONDS
        )
        self._with_token_keys = (
            None if settings.jwt_secret_arn is None else Reread(self._read_token_keys, "token keys")
        )

    @property
    def settings(self) -> Settings:
        """The deployment's settings. With MFA_JWT_SECRET_ARN, their token keys are the secret's, read at
        the first request that asks and again every signing.REFRESH_SECONDS (a rotation's overlap)."""
        if self._with_token_keys is None:
            return self._settings
        return self._with_token_keys.get(self.clock())

    def keyring(self) -> signing.KeyRing:
        """The mfa_token signing keys: from the secret MFA_SIGNING_KEY_ARN names, read again every
        signing.REFRESH_SECONDS; in the local run, a key made when the container first signs."""
        return self._keyring.get(self.clock())

    def _read_keyring(self) -> signing.KeyRing:
        if self._settings.signing_key_arn is None:
            return signing.KeyRing(signing.new_key())
        return self._from_secret(self._settings.signing_key_arn, signing.from_secret, "no mfa_token can be signed")

    def _read_token_keys(self) -> Settings:
        return self._from_secret(
            self._settings.jwt_secret_arn, self._settings.with_jwt_secret, "callers' tokens cannot be verified"
        )

    def _from_secret(self, arn: str, parse: Callable[[str], T], consequence: str) -> T:
        """What a secret holds; Unavailable (a 503) when it cannot be read or holds no valid value, with one
        log line naming the secret and its problem, never its value."""
        with aws_unavailable():
            value = self.secretsmanager.get_secret_value(SecretId=arn)["SecretString"]
        try:
            return parse(value)
        except ConfigError as e:
            log.error("%s: %s (secret %s)", consequence, e, arn)
            raise Unavailable() from e

    def _client(self, name: str):
        import boto3

        # botocore logs request parameters at DEBUG, and an SMS text holds its code: whatever level the
        # deployment's root logger has, botocore says no more than INFO.
        logging.getLogger("botocore").setLevel(max(logging.getLogger("botocore").getEffectiveLevel(), logging.INFO))

        return boto3.client(name, config=self._aws_config)

    @lazy
    def dynamodb(self):
        return self._client("dynamodb")

    @lazy
    def kms(self):
        return self._client("kms")

    @lazy
    def sns(self):
        return self._client("sns")

    @lazy
    def secretsmanager(self):
        return self._client("secretsmanager")

    @lazy
    def store(self) -> Store:
        return Store(self.dynamodb, self._settings.table)

    @lazy
    def vault(self) -> Vault:
        # Only a request that needs a tenant's data key asks for the vault, and in a new container that
        # key is not in hand yet: KMS is needed then anyway.
        return Vault(self.kms, self.store, self._settings.kms_key_id)

    @lazy
    def messenger(self) -> Messenger:
        # The SNS client is made on first send: most requests never send, and a client costs cold start.
        return Messenger(lambda: self.sns, self._settings.topic_arn)

    @lazy
    def policies(self) -> Policies:
        return Policies(self.store)


_current: Runtime | None = None
_lock = threading.Lock()


def current() -> Runtime:
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = Runtime(settings())
    return _current


def reset() -> None:
    """Forget the container's state (clients, caches, settings): a new moto scope or new settings."""
    global _current
    with _lock:
        _current = None
        settings.cache_clear()
