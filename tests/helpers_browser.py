"""What the browser tests (tests/test_browser_*.py) share: Debian's Chromium driven by Playwright against the
local server (in-process, on a moto server, in dev mode as `make run` serves it), pages that fail a test on any
uncaught error or console.error, the dev bar, the QR code read by a real decoder, an authenticator app's codes,
sites of other origins, and the README's screenshots (docs/screenshots/), saved only by `make screenshots`.
A test module loads the fixtures with `pytest_plugins = ["tests.helpers_browser"]`."""

from __future__ import annotations

import http.server
import io
import os
import re
import threading
import time
from pathlib import Path

import pyotp
import pytest
import requests
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from mfa_core import totp
from tests.conftest import make_token

CHROMIUM = "/usr/bin/chromium"  # Debian's; a downloaded browser is never used (no `playwright install`)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS_ENV = "MFA_SCREENSHOTS"  # `make screenshots` sets it to docs/screenshots
DESKTOP = {"width": 1100, "height": 800}
PHONE = {"width": 360, "height": 740}
WRONG_CODE_MESSAGE = "The verification code is incorrect or has expired."


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser, viewport=DESKTOP, **context_options) -> Page:
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="Asia/Shanghai", **context_options)
    context.set_default_timeout(10_000)
    return watch(context.new_page())


@pytest.fixture
def page(browser, live):
    page = new_page(browser)
    page.goto(live + "/")
    yield page
    assert page.problems == []
    page.context.close()


@pytest.fixture
def phone_page(browser, live):
    page = new_page(browser, PHONE)
    page.goto(live + "/")
    yield page
    assert page.problems == []
    page.context.close()


class Site:
    """A web site of its own origin (another loopback port), serving `html` at every path: a mail product framing or
    opening the page, or a stranger."""

    def __init__(self) -> None:
        self.html = ""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(site.html.encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def set_policy(base: str, tenant: str, **policy) -> dict:
    token = make_token("admin@example.com", tenant, "mfa:admin")
    response = requests.put(f"{base}/v1/policy", json=policy, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def switch(page: Page, user: str, tenant: str, role: str) -> None:
    """Pick a demo user and role in the dev bar, as a person trying the local run does."""
    page.get_by_label("User", exact=True).fill(user)
    page.get_by_label("Tenant").fill(tenant)
    page.get_by_label("Role").select_option(role)
    page.get_by_role("button", name="Switch").click()
    expect(page.locator("#who")).to_have_text(f"{user} · {tenant}")


def log_on(page: Page) -> None:
    """The simulated password step of the local run."""
    expect(page.get_by_role("heading", name="Log on", exact=True)).to_be_visible()
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log On").click()


def read_qr(page: Page) -> str:
    """The QR code as the page shows it (a screenshot of the image element), read by a real decoder."""
    image = page.get_by_role("img", name=re.compile("QR code"))
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.screenshot())))
    assert len(results) == 1 and results[0].format == zxingcpp.BarcodeFormat.QRCode
    uri = results[0].text
    assert uri.startswith("otpauth://totp/")
    # The manual-entry key is the same secret, grouped for reading.
    assert page.locator("#manual-key").inner_text().replace(" ", "") == pyotp.parse_uri(uri).secret
    return uri


class App:
    """What an authenticator app shows, one step after another: each code is accepted once, so a flow that
    needs three codes (attach, logon, delete) takes three consecutive steps; the policy's window of 2 covers
    them without waiting."""

    def __init__(self, uri: str) -> None:
        parsed = pyotp.parse_uri(uri)
        self.secret, self.period = parsed.secret, parsed.interval
        self.last = None

    def code(self) -> str:
        now = totp.step_at(time.time(), self.period)
        self.last = now if self.last is None else max(now, self.last + 1)
        return totp.code_at(self.secret, self.last, algorithm="SHA1", digits=6)

    def wrong_code(self) -> str:
        now = totp.step_at(time.time(), self.period)
        valid = {totp.code_at(self.secret, s, algorithm="SHA1", digits=6) for s in range(now - 3, now + 4)}
        return next(c for c in (f"{n:06d}" for n in range(123456, 1_000_000, 7919)) if c not in valid)


def check_accessible(page: Page) -> None:
    """Every input has a label; code inputs bring up the digit keyboard and one-time-code autofill; nothing
    is wider than the screen."""
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).map(el => el.outerHTML)""")
    assert unlabelled == []
    for code in page.locator("input[name=code]").all():
        assert code.get_attribute("inputmode") == "numeric"
        assert code.get_attribute("autocomplete") == "one-time-code"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def shot(page: Page, name: str) -> None:
    """The accessibility checks on every run; the README's screenshot only under `make screenshots`, which names
    the folder in MFA_SCREENSHOTS (a plain `make test` leaves the tree as it found it)."""
    check_accessible(page)
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(folder) / f"{name}.png", full_page=True, animations="disabled")


def tab_to(page: Page, name: str, limit: int = 40) -> None:
    """Press Tab until the element with this accessible name (a button's text or an input's label) has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const el = document.activeElement;
            return (el.labels && el.labels.length ? el.labels[0].textContent : el.textContent || '').trim(); }""")
        if focused == name:
            return
    raise AssertionError(f"{name!r} is not reachable with Tab")


def heading(page: Page, name: str):
    return page.get_by_role("heading", name=name, exact=True)


def row(page: Page, title: str):
    """A row of the Account Security list."""
    return page.locator(".rows > li").filter(has=page.get_by_role("heading", name=re.compile("^" + re.escape(title))))


def attach_by_api(base: str, user: str, tenant: str) -> App:
    """An authenticator attached through the API (the screens under test are elsewhere)."""
    token = make_token(user, tenant, "mfa:settings")
    headers = {"Authorization": f"Bearer {token}"}
    enrolled = requests.post(f"{base}/v1/authenticator/enroll", json={}, headers=headers, timeout=10).json()
    app = App(enrolled["otpauth_uri"])
    confirmed = requests.post(f"{base}/v1/authenticator/confirm", headers=headers, timeout=10,
                              json={"enrollment_id": enrolled["enrollment_id"], "code": app.code()})
    assert confirmed.status_code == 200, confirmed.text
    return app


def watch(page: Page) -> Page:
    """Fail the test on the page's uncaught errors and its own console.error calls, like every page here."""
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("console", lambda message: message.type == "error"
            and not message.text.startswith("Failed to load resource")  # the 4xx answers the flows provoke
            and page.problems.append(message.text))
    return page


def sent(page: Page, path: str) -> list:
    """The requests the page sends to `path` from now on (a list that grows), to show what was never sent."""
    requests_seen = []
    page.on("request", lambda request: request.url.endswith(path) and requests_seen.append(request))
    return requests_seen
