"""Envelope encryption of secrets at rest, and keyed hashes for codes we only need to recognise.

One KMS data key per tenant (GenerateDataKey, stored encrypted in the table) is decrypted once per
container and cached, so a warm request makes no KMS call. Secrets are sealed with AES-GCM and the
tenant, user and purpose bound in as associated data: a ciphertext copied into another user's item
does not open."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import Unavailable, aws_unavailable

log = logging.getLogger(__name__)

SEAL_VERSION = b"\x01"
NONCE_BYTES = 12


class Vault:
    def __init__(self, kms, store, key_id: str) -> None:
        self._kms = kms
        self._store = store
        self._key_id = key_id
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def data_key(self, tenant: str) -> bytes:
        key = self._keys.get(tenant)
        if key is None:
            with self._lock:
                key = self._keys.get(tenant) or self._load_or_create(tenant)
                self._keys[tenant] = key
        return key

    def _load_or_create(self, tenant: str) -> bytes:
        context = {"tenant": tenant}
        blob = self._store.get_data_key(tenant)
        with aws_unavailable():
            if blob is None:
                made = self._kms.generate_data_key(KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=context)
                winner = self._store.put_data_key(tenant, made["CiphertextBlob"])
                if winner == made["CiphertextBlob"]:
                    return made["Plaintext"]
                blob = winner  # another container created the tenant's key first: use theirs
            return self._kms.decrypt(CiphertextBlob=blob, EncryptionContext=context, KeyId=self._key_id)["Plaintext"]

    @staticmethod
    def _aad(tenant: str, user: str, purpose: str) -> bytes:
        return json.dumps([tenant, user, purpose]).encode()

    def seal(self, tenant: str, user: str, purpose: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.data_key(tenant)).encrypt(nonce, plaintext, self._aad(tenant, user, purpose))
        return SEAL_VERSION + nonce + sealed

    def open(self, tenant: str, user: str, purpose: str, blob: bytes) -> bytes:
        if blob[:1] != SEAL_VERSION:
            log.error("sealed secret has an unknown format", extra={"tenant": tenant})
            raise Unavailable()
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return AESGCM(self.data_key(tenant)).decrypt(nonce, sealed, self._aad(tenant, user, purpose))
        except InvalidTag as e:
            # Tampered, copied from another user's item, or sealed under another key: fail closed.
            log.error("sealed secret failed authentication", extra={"tenant": tenant})
            raise Unavailable() from e

    def keyed_hash(self, tenant: str, purpose: str, value: str) -> str:
        """HMAC under a subkey of the tenant's data key: a leaked table alone can't be brute-forced."""
        subkey = hmac.new(self.data_key(tenant), b"mfa-hash:" + purpose.encode(), hashlib.sha256).digest()
        return hmac.new(subkey, value.encode(), hashlib.sha256).hexdigest()
