"""The API called cross-origin from a real browser (tests/helpers_browser.py), as a tenant's webmail calls it: a page
from a second origin the deployment allows (a tiny static server on another loopback port, listed in the
MFA_CORS_ORIGINS of the server under test) reads `rate_limited`, the unknown route's 404 and a wrong method's 405
from their JSON bodies, which the browser allows only when the CORS headers are there; a page from an origin the
deployment does not list reads none of them."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import make_token
from tests.helpers_browser import new_page

pytest_plugins = ["tests.helpers_browser"]  # the browser fixture

WEBMAIL = b"<!doctype html><html lang='en'><title>Webmail</title><p>Webmail</p></html>"
# Each call as the webmail's script makes it; what the page can read of the answer, or how fetch failed.
CALLS = """async ({api, token, number}) => {
  const read = async (path, init) => {
    try {
      const answer = await fetch(api + path, init);
      return {status: answer.status, body: await answer.json(), retryAfter: answer.headers.get("Retry-After")};
    } catch (error) {
      return {failed: String(error)};
    }
  };
  const sendCode = () => read("/v1/phone", {
    method: "POST",
    headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    body: JSON.stringify({number}),
  });
  return {
    sent: await sendCode(),
    again: await sendCode(),
    unknownRoute: await read("/v1/no-such-route"),
    wrongMethod: await read("/v1/health", {method: "DELETE"}),
  };
}"""


class Webmail(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(WEBMAIL)))
        self.end_headers()
        self.wfile.write(WEBMAIL)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def sites():
    """Two webmail sites on their own loopback ports: the first allowed by the server under test, the other not.
    Made before `live` (see `server`): the server under test reads MFA_CORS_ORIGINS when it starts."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Webmail) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    allowed, stranger = (f"http://127.0.0.1:{server.server_port}" for server in servers)
    saved = os.environ.get("MFA_CORS_ORIGINS")
    os.environ["MFA_CORS_ORIGINS"] = allowed
    yield allowed, stranger
    if saved is None:
        os.environ.pop("MFA_CORS_ORIGINS")
    else:
        os.environ["MFA_CORS_ORIGINS"] = saved
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def server(sites, live) -> str:
    """The local server as `make run` serves it, allowing the first site."""
    return live


def calls_from(browser, site: str, api: str, user: str, number: str) -> tuple[dict, list[str]]:
    page = new_page(browser)
    try:
        page.goto(site + "/")
        token = make_token(user, "web-cors", "mfa:settings")
        return page.evaluate(CALLS, {"api": api, "token": token, "number": number}), page.problems
    finally:
        page.context.close()


def test_a_page_of_an_allowed_origin_reads_rate_limited_404_and_405_and_one_of_another_origin_reads_nothing(
    browser, sites, server
):
    allowed, stranger = sites
    seen, problems = calls_from(browser, allowed, server, "carol@example.com", "+8613800007777")
    read = {name: (answer.get("status"), (answer.get("body") or {}).get("error")) for name, answer in seen.items()}
    assert read == {
        "sent": (202, None),
        "again": (429, "rate_limited"),
        "unknownRoute": (404, "not_found"),
        "wrongMethod": (405, "method_not_allowed"),
    }, seen
    assert 0 < int(seen["again"]["retryAfter"]) <= 30, seen  # an exposed header: the page needs it
    assert problems == []

    seen, problems = calls_from(browser, stranger, server, "dave@example.com", "+8613800008888")
    assert {name: "failed" in answer for name, answer in seen.items()} == dict.fromkeys(seen, True), seen
    assert problems and all("blocked by CORS policy" in problem for problem in problems), problems
