"""Failures injected into botocore at the HTTP layer (before-send), on every attempt of one chosen call."""

import collections

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body


def error_response(service: str, status: int, code: str, url: str) -> AWSResponse:
    if service == "sns":  # the query protocol answers in XML
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message>"
            f"</Error><RequestId>x</RequestId></ErrorResponse>"
        ).encode()
        headers = {"Content-Type": "text/xml"}
    else:
        body = f'{{"__type": "{code}", "message": "injected"}}'.encode()
        headers = {"Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(url, status, headers, _Raw(body))


class Injector:
    """Records the AWS calls a request makes; fails the `fail_at`-th one on every attempt."""

    def __init__(self, clients, fail_at: int | None = None, failure=None) -> None:
        self.calls: list[str] = []
        self.attempts = collections.Counter()
        self._fail_at, self._failure = fail_at, failure
        for client in clients:
            client.meta.events.register("before-call", self._before_call)
            client.meta.events.register_first("before-send", self._before_send)  # ahead of moto's own
        self._clients = clients

    def _before_call(self, model, **_):
        self.calls.append(f"{model.service_model.service_name}:{model.name}")

    def _before_send(self, request, **_):
        index = len(self.calls) - 1
        if index != self._fail_at:
            return None
        self.attempts[index] += 1
        service = self.calls[index].split(":")[0]
        if self._failure == "connection":
            raise EndpointConnectionError(endpoint_url=request.url)
        status, code = self._failure
        url, request.url = request.url, "http://fault-injected.invalid/"  # so moto's own handler ignores it
        return error_response(service, status, code, url)

    def close(self) -> None:
        for client in self._clients:
            client.meta.events.unregister("before-call", self._before_call)
            client.meta.events.unregister("before-send", self._before_send)
