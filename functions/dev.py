"""Local run only (MFA_DEV_MODE=1): mint tokens with the local secret. Never registered in a deployed stage."""

import jwt
from chalice import Blueprint

from mfa_core import runtime
from mfa_core.auth import SCOPES, normalize_user
from mfa_core.config import TENANT_RE, Settings
from mfa_core.errors import InvalidRequest

from .http import Call, endpoint, string_field

bp = Blueprint(__name__)
DEV_TOKEN_SECONDS = 8 * 3600


def claims_of(user: str, tenant: str, scope: str) -> tuple[str, str, str]:
    """The claims of a dev token, each checked as the service will check it, with the reason when not."""
    mailbox = normalize_user(user)
    if mailbox is None:
        raise InvalidRequest("user must be a mailbox address, like alice@example.com.")
    if not TENANT_RE.fullmatch(tenant):
        raise InvalidRequest("tenant must be lower-case letters, digits and hyphens, like demo.")
    if not scope.strip() or not set(scope.split()) <= SCOPES:
        raise InvalidRequest(f"scope must be one or more of: {' '.join(sorted(SCOPES))}.")
    return mailbox, tenant, scope


def dev_token(settings: Settings, user: str, tenant: str, scope: str, now: float) -> str:
    """A caller token as the mail platform would mint it, signed with this deployment's key."""
    claims = {
        "sub": user,
        "tenant": tenant,
        "scope": scope,
        "aud": "mfa",
        "iat": int(now),
        "exp": int(now) + DEV_TOKEN_SECONDS,
    }
    if settings.jwt_algorithm != "HS256":
        raise InvalidRequest("Dev tokens are signed with the shared secret: this run verifies by a public key.")
    return jwt.encode(claims, settings.jwt_verify_key, algorithm="HS256")


@endpoint(bp, "/v1/dev/token", "POST")
def token(call: Call) -> dict:
    user, tenant, scope = claims_of(
        string_field(call.body, "user", max_length=254),
        string_field(call.body, "tenant", max_length=63),
        string_field(call.body, "scope", max_length=200),
    )
    return {"token": dev_token(runtime.current().settings, user, tenant, scope, call.ctx.now)}


@endpoint(bp, "/v1/dev/outbox", "GET")
def outbox(call: Call) -> dict:
    """What the local run's SNS (moto, in this process) was asked to send, newest first: read an SMS
    code here when trying the flows without a phone."""
    from moto.sns.models import sns_backends  # dev only: moto is not in the Lambda package

    sms, notifications = [], []
    for _, _, backend in sns_backends.iter_backends():
        sms += [{"to": number, "message": text} for number, text in backend.sms_messages.values()]
        for topic in backend.topics.values():
            notifications += [{"topic": topic.name, "message": message}
                              for _, message, *_ in topic.sent_notifications]
    return {"sms": sms[::-1], "notifications": notifications[::-1]}
