"""The shared MFA core: TOTP, crypto, storage, auth and the use cases (packaged as a Lambda layer)."""
