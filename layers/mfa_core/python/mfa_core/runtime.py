"""The composition root: settings, AWS clients and the ports the use cases talk through (store, vault,
messenger, policies), created lazily once per container.

Lazy because Lambda's environment (and moto in tests) must be in place before a boto3 client exists."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import cached_property

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


class Runtime:
    def __init__(
        self, settings: Settings, *, aws_config: Config = AWS_CONFIG, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._aws_config = aws_config
        self._keyring: tuple[float, signing.KeyRing] | None = None
        self._keyring_lock = threading.Lock()

    def _client(self, name: str):
        import boto3

        # botocore logs request parameters at DEBUG, and an SMS text holds its code: whatever level the
        # deployment's root logger has, botocore says no more than INFO.
        logging.getLogger("botocore").setLevel(max(logging.getLogger("botocore").getEffectiveLevel(), logging.INFO))

        return boto3.client(name, config=self._aws_config)

    @cached_property
    def dynamodb(self):
        return self._client("dynamodb")

    @cached_property
    def kms(self):
        return self._client("kms")

    @cached_property
    def sns(self):
        return self._client("sns")

    @cached_property
    def store(self) -> Store:
        return Store(self.dynamodb, self.settings.table)

    @cached_property
    def vault(self) -> Vault:
        return Vault(self.kms, self.store, self.settings.kms_key_id)

    @cached_property
    def messenger(self) -> Messenger:
        # The SNS client is made on first send: most requests never send, and a client costs cold start.
        return Messenger(lambda: self.sns, self.settings.topic_arn)

    @cached_property
    def policies(self) -> Policies:
        return Policies(self.store)

    def keyring(self) -> signing.KeyRing:
        """The mfa_token signing keys: from the secret MFA_SIGNING_KEY_ARN names, read again every
        signing.REFRESH_SECONDS (a failed re-read keeps the keys in hand); in the local run, a key made
        when the container starts."""
        now = self.clock()
        held = self._keyring
        if held is not None and (held[0] > now or self.settings.signing_key_arn is None):
            return held[1]
        with self._keyring_lock:
            held = self._keyring
            if held is None or held[0] <= now:
                try:
                    ring = self._read_keyring()
                except Unavailable:
                    if held is None:
                        raise
                    log.warning("signing keys not re-read: Secrets Manager failed; the keys in hand stay")
                    ring = held[1]
                self._keyring = held = (now + signing.REFRESH_SECONDS, ring)
        return held[1]

    def _read_keyring(self) -> signing.KeyRing:
        if self.settings.signing_key_arn is None:
            return signing.KeyRing(signing.new_key())
        with aws_unavailable():
            value = self.secretsmanager.get_secret_value(SecretId=self.settings.signing_key_arn)["SecretString"]
        try:
            return signing.from_secret(value)
        except ConfigError as e:
            log.error("no mfa_token can be signed: %s", e)
            raise Unavailable() from e

    @cached_property
    def secretsmanager(self):
        return self._client("secretsmanager")

    def build(self) -> Runtime:
        """Everything at once: cached_property is not thread-safe, so current() builds under its lock."""
        self._read_token_key()
        self.store, self.vault, self.messenger, self.policies  # noqa: B018 - each is built on first access
        return self

    def _read_token_key(self) -> None:
        """The HS256 secret from Secrets Manager when MFA_JWT_SECRET_ARN names one. Read once, when the
        container builds its runtime, and kept for its life: a changed secret reaches new containers
        (redeploy, or wait for old ones to be recycled)."""
        if self.settings.jwt_secret_arn is None:
            return
        with aws_unavailable():
            secret = self.secretsmanager.get_secret_value(SecretId=self.settings.jwt_secret_arn)["SecretString"]
        self.settings = self.settings.with_jwt_secret(secret)


_current: Runtime | None = None
_lock = threading.Lock()


def current() -> Runtime:
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = Runtime(settings()).build()
    return _current


def reset() -> None:
    """Forget the container's state (clients, caches, settings): a new moto scope or new settings."""
    global _current
    with _lock:
        _current = None
        settings.cache_clear()
