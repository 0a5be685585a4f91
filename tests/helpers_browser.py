"""What the browser tests (tests/test_browser_*.py) share: Debian's Chromium driven by Playwright against the
local server (in-process, on a moto server, in dev mode as `make run` serves it), pages that fail a test on any
uncaught error or console.error, the dev bar, the QR code read by a real decoder, an authenticator app's codes,
and the screenshots saved to docs/screenshots/ for the README. A test module loads the fixtures with
`pytest_plugins = ["tests.helpers_browser"]`."""

from __future__ import annotations

import io
import os
import re
import time

import pyotp
import pytest
import requests
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from mfa_core import totp
from tests.conftest import ROOT, make_token

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
SHOTS = ROOT / "docs" / "screenshots"
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


def new_page(browser, viewport=DESKTOP) -> Page:
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.problems = []  # uncaught errors and the page's own console.error calls
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("console", lambda message: message.type == "error"
            and not message.text.startswith("Failed to load resource")  # the 4xx answers the flows provoke
            and page.problems.append(message.text))
    return page


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
    check_accessible(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True, animations="disabled")


def heading(page: Page, name: str):
    return page.get_by_role("heading", name=name, exact=True)


def row(page: Page, title: str):
    """A row of the Account Security list."""
    return page.locator(".rows > li").filter(has=page.get_by_role("heading", name=re.compile("^" + re.escape(title))))
