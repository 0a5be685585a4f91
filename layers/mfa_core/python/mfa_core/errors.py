"""Domain errors. Each carries the contract's `error` code and its HTTP status (API.md's error table);
`functions/http.py` turns them into responses. tests/test_errors.py ties them to openapi.yaml and the page."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError


class MfaError(Exception):
    error = "invalid_request"
    status = 400
    message = "The request is not valid."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message

    def extra(self) -> dict:
        """Fields added to the error body next to `error` and `message`."""
        return {}


class InvalidRequest(MfaError):
    pass


class InvalidCode(MfaError):
    error = "invalid_code"
    status = 400
    message = "The verification code is incorrect or has expired."

    def __init__(self, attempts_left: int) -> None:
        super().__init__()
        self.attempts_left = attempts_left

    def extra(self) -> dict:
        return {"attempts_left": self.attempts_left}


class Unauthorized(MfaError):
    error = "unauthorized"
    status = 401
    message = "A valid bearer token is required."


class Forbidden(MfaError):
    error = "forbidden"
    status = 403
    message = "You are not allowed to do this."


class SmsCountryRefused(Forbidden):
    """SMS to this country calling code is off the tenant's list (policy `sms.countries`). The code is in
    the body too, so a page can say it in the user's language."""

    def __init__(self, calling_code: str) -> None:
        super().__init__(f"SMS to country code {calling_code} is not allowed for this organization.")
        self.calling_code = calling_code

    def extra(self) -> dict:
        return {"calling_code": self.calling_code}


class NotFound(MfaError):
    error = "not_found"
    status = 404
    message = "Not found."


class MethodNotAllowed(MfaError):
    error = "method_not_allowed"
    status = 405
    message = "This method is not allowed here."


class AlreadyAttached(MfaError):
    error = "already_attached"
    status = 409
    message = "An authenticator is already attached. Delete it before attaching another."


class Conflict(MfaError):
    error = "conflict"
    status = 409
    message = "The policy was changed by someone else. Reload it and try again."


class LimitReached(MfaError):
    error = "limit_reached"
    status = 409
    message = "You have reached the limit."


class EnrollmentExpired(MfaError):
    error = "enrollment_expired"
    status = 410
    message = "The QR code has expired. Get a new one and scan it again."


class PayloadTooLarge(MfaError):
    error = "payload_too_large"
    status = 413
    message = "The request body is larger than 16 KiB."


class UnsupportedMediaType(MfaError):
    error = "unsupported_media_type"
    status = 415
    message = "Send the body as JSON (Content-Type: application/json)."


class _RetryLater(MfaError):
    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))

    def extra(self) -> dict:
        return {"retry_after": self.retry_after}


class Locked(_RetryLater):
    error = "locked"
    status = 429
    message = "Too many incorrect codes. Try again later."


class RateLimited(_RetryLater):
    error = "rate_limited"
    status = 429
    message = "Too many requests. Try again later."


class Unavailable(_RetryLater):
    error = "unavailable"
    status = 503
    message = "The service is temporarily unavailable. Try again shortly."

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(retry_after)


@contextlib.contextmanager
def aws_unavailable() -> Iterator[None]:
    """Turn a cloud failure that survived botocore's retries into a 503 (never a 500)."""
    try:
        yield
    except (ClientError, BotoCoreError) as e:
        raise Unavailable() from e
