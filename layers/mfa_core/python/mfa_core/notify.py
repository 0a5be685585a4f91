"""SNS: SMS codes to secure phones, and security notifications to the deployment's topic; and the event lines
the stack's alarms count (locks a minute, SMS sent an hour)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from .errors import aws_unavailable
from .times import iso

log = logging.getLogger(__name__)
# The event lines at INFO whatever the root level (Lambda's is WARNING). Not under the app's own "mfa" logger:
# Chalice sets that to ERROR and stops it propagating.
log.setLevel(logging.INFO)
SMS_SENT = "sms_sent"


def log_event(name: str, tenant: str) -> None:
    """One line per audit event written and per SMS sent, for the alarms' metric filters: the event's name and
    the tenant, never who, which number, or any code or token."""
    log.info(json.dumps({"event": name, "tenant": tenant}))


class Messenger:
    def __init__(self, sns: Callable[[], object], topic_arn: str | None) -> None:
        self._client = sns
        self._topic_arn = topic_arn

    @property
    def _sns(self):
        return self._client()

    def send_sms(self, number: str, text: str, *, tenant: str) -> None:
        """Sending the code is the point of the request: a failure is Unavailable (503)."""
        with aws_unavailable():
            self._sns.publish(
                PhoneNumber=number,
                Message=text,
                MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
            )
        log_event(SMS_SENT, tenant)

    def notify(self, *, event: str, tenant: str, user: str, at: float, ip: str) -> None:
        """Tell the user out of band (the mail system turns it into an email). Best effort: the event is
        already in the audit trail, so a failed publish is logged and never fails the request."""
        if self._topic_arn is None:
            return
        message = {"event": event, "tenant": tenant, "user": user, "at": iso(at), "ip": ip}
        try:
            self._sns.publish(TopicArn=self._topic_arn, Message=json.dumps(message))
        except (ClientError, BotoCoreError) as e:
            log.warning("notification not published: %s %s (%s)", event, tenant, type(e).__name__)
