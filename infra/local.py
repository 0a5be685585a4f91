"""`make run`: an embedded moto server, the table and key created in it, and the API on 127.0.0.1.

`make run DYNAMODB=local` puts the table on Amazon's DynamoDB Local instead (infra/dynamodb_local.py), which
runs requests concurrently as DynamoDB does; KMS and SNS stay on moto.

Serves the Chalice app the way `chalice local` does, with two differences: an unknown route answers
the contract's 404 (as the deployed API Gateway's Gateway Responses do), and replies are not held
back by Nagle's algorithm on keep-alive connections."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from infra.processes import port_free

ROOT = Path(__file__).resolve().parent.parent
LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "MFA_DEV_MODE": "1",
    "MFA_TABLE": "mfa",
    "MFA_KMS_KEY_ID": "alias/mfa",
    "MFA_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:mfa-notifications",
}


def contract_gateway_class():
    from chalice.app import Request
    from chalice.local import ForbiddenError, LambdaEventConverter, LocalGateway

    from functions import http
    from mfa_core.errors import NotFound

    class ContractGateway(LocalGateway):
        """Chalice's local gateway mimics API Gateway's 403 "Missing Authentication Token" for an unknown
        route; the contract says 404 not_found, and like every answer it goes through the app's middleware
        (CORS, Cache-Control, the access log), as the deployed stack's Gateway Responses get the same headers."""

        def handle_request(self, method, path, headers, body):
            try:
                return super().handle_request(method, path, headers, body)
            except ForbiddenError:  # raised only for unknown routes: we use no API Gateway authorizers
                unrouted = Request(unrouted_event(method, path, headers, body))
                return http.contract_errors(unrouted, lambda _: http.error_response(NotFound())).to_dict()

    def unrouted_event(method, path, headers, body) -> dict:
        """The Lambda event Chalice's converter would make for `path`, had it a route: none, so no resourcePath."""
        return {
            "requestContext": {
                "httpMethod": method,
                "resourcePath": None,
                "identity": {"sourceIp": LambdaEventConverter.LOCAL_SOURCE_IP},
                "path": path.split("?")[0],
            },
            "headers": {k.lower(): v for k, v in headers.items()},
            "pathParameters": None,
            "multiValueQueryStringParameters": None,
            "stageVariables": {},
            "body": body,
        }

    return ContractGateway


def one_request_at_a_time(app):
    """WSGI wrapper that lets moto handle one request at a time.

    moto's backends are not thread-safe: a cancelled DynamoDB transaction restores a snapshot of the
    whole table, undoing writes that other requests committed meanwhile. DynamoDB applies each request
    atomically; serialising requests gives moto that property. Our service still runs its requests
    concurrently, so its read-then-conditional-write windows race as they would on AWS."""
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            return list(app(environ, start_response))

    return serialized


def start_moto():
    """An embedded moto server on a free loopback port; boto3 clients made after this call use it.

    Returns the server (call shutdown() to stop it) and its port."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    app = one_request_at_a_time(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ.update(LOCAL_ENV)
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{server.server_port}"
    return server, server.server_port


def dynamodb_engine() -> str:
    """DYNAMODB from the environment (`make run DYNAMODB=local`): "moto" when unset."""
    engine = os.environ.get("DYNAMODB") or "moto"
    if engine not in ("moto", "local"):
        raise SystemExit(f"DYNAMODB={engine}: say DYNAMODB=local for Amazon's DynamoDB Local, or leave it out for moto")
    return engine


def start_dynamodb_local():
    """DynamoDB Local on a free loopback port, with this process's DynamoDB clients pointed at it (call after
    start_moto: AWS_ENDPOINT_URL keeps KMS and SNS on moto). Returns it (call stop())."""
    from infra.dynamodb_local import Unavailable, start, use

    try:
        local = start()
    except Unavailable as e:
        raise SystemExit(str(e)) from None
    use(local)
    return local


def stop_then_die(jar):
    """A SIGTERM handler (`make soak` stops its server so) that stops the JAR, then dies by the signal as the
    moto-only run does: a clean interpreter exit after a long run spends seconds (23 s after a 45 s soak)
    collecting the heap."""

    def handler(signum, _frame):
        jar.stop()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    return handler


def create_resources() -> None:
    import boto3

    from infra.resources import create_key, create_table, create_topic

    create_table(boto3.client("dynamodb"), os.environ["MFA_TABLE"])
    create_key(boto3.client("kms"))
    create_topic(boto3.client("sns"))


def env_port(name: str, default: int) -> int:
    """A port named by the environment; one line and exit when it is not a port."""
    value = os.environ.get(name) or str(default)
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 65536:
        sys.exit(f"{name}={value}: say a port number from 1 to 65535")
    return int(value)


def main() -> None:
    port = env_port("PORT", 8000)
    if not port_free(port):
        sys.exit(f"make run: port {port} on 127.0.0.1 is taken: stop what uses it, or choose another (PORT=...)")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("werkzeug", "botocore", "boto3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    engine = dynamodb_engine()
    os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)  # one left in the shell would take DynamoDB elsewhere
    moto, moto_port = start_moto()
    jar = None
    try:
        if engine == "local":
            jar = start_dynamodb_local()
            signal.signal(signal.SIGTERM, stop_then_die(jar))
        create_resources()
        server = local_server(port)
        if jar:
            print("DynamoDB: Amazon's DynamoDB Local; KMS and SNS: moto")
            print(f"MFA service on http://127.0.0.1:{port} (moto on 127.0.0.1:{moto_port}, "
                  f"DynamoDB Local on 127.0.0.1:{jar.port}; Ctrl-C stops all)")
        else:
            print("DynamoDB, KMS and SNS: moto")
            print(f"MFA service on http://127.0.0.1:{port} (moto on 127.0.0.1:{moto_port}; Ctrl-C stops both)")
        print("Get a token:  make token USER=alice@example.com TENANT=demo SCOPE=mfa:settings")
        print(
            f"          or curl -s -X POST http://127.0.0.1:{port}/v1/dev/token "
            "-H 'Content-Type: application/json' "
            '-d \'{"user":"alice@example.com","tenant":"demo","scope":"mfa:settings"}\''
        )
        sys.stdout.flush()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if jar:
            jar.stop()
        moto.shutdown()


def local_server(port: int):
    """The app served on 127.0.0.1:`port` as `chalice local` would (call serve_forever to run it)."""
    from http.server import BaseHTTPRequestHandler

    from chalice.cli.factory import CLIFactory
    from chalice.local import (
        ChaliceRequestHandler,
        LocalChalice,
        LocalDevServer,
        ThreadedHTTPServer,
        create_local_server,
    )

    gateway_class = contract_gateway_class()

    class RequestHandler(ChaliceRequestHandler):
        disable_nagle_algorithm = True

        def __init__(self, request, client_address, server, app_object, config):
            # Chalice's __init__ builds its own gateway and then serves the request at once, so set
            # ours and go straight to the base class.
            self.local_gateway = gateway_class(app_object, config)
            BaseHTTPRequestHandler.__init__(self, request, client_address, server)

        def __getattr__(self, name):
            # http.server answers a method it has no do_X for (TRACE, CONNECT...) with an HTML 501; send
            # every method to the app, which answers the contract's 405 (or 404 for an unknown route).
            if name.startswith("do_"):
                return self._generic_handle
            raise AttributeError(name)

    class Server(ThreadedHTTPServer):
        request_queue_size = 128  # socketserver's default listen backlog of 5 resets bursts of connections
        daemon_threads = True

    factory = CLIFactory(project_dir=str(ROOT), environ=os.environ)
    app = factory.load_chalice_app()
    config = factory.create_config_obj(chalice_stage_name="dev")
    if not isinstance(app, LocalChalice):  # once per process: the swap can't be applied twice
        create_local_server(app, config, "127.0.0.1", port)  # turns the app into Chalice's local flavour
    return LocalDevServer(app, config, "127.0.0.1", port, handler_cls=RequestHandler, server_cls=Server)


if __name__ == "__main__":
    main()
