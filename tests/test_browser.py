"""The reference page in a real browser: Debian's Chromium driven by Playwright against the local server
(in-process, on a moto server, in dev mode as `make run` serves it). The flows are the seed's: attach,
logon with Set as trusted device, logon skipped on that device, delete with Next; the admin turns
two-factor on and a user without a factor attaches at logon (Method 1). Every screen is saved to
docs/screenshots/ for the README."""

from __future__ import annotations

import io
import os
import re
import time

import jwt
import pyotp
import pytest
import requests
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from mfa_core import runtime, totp
from mfa_core.config import DEV_SECRET
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


# ---- helpers ----------------------------------------------------------------------------------------------


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


def outbox_code(page: Page, number: str) -> str:
    """The newest SMS code sent to `number`, read from the dev bar's outbox (a code not read before: the list
    on screen may still be the one from before the last send)."""
    outbox = page.locator("#outbox")
    if outbox.get_attribute("open") is None:
        outbox.locator("summary").click()
    seen = page.sms_seen = getattr(page, "sms_seen", set())
    for _ in range(50):
        outbox.get_by_role("button", name="Refresh").click()
        messages = outbox.locator("li").filter(has_text=f"SMS to {number}").all_inner_texts()
        if messages and (code := re.search(r"\b(\d{6})\b", messages[0]).group(1)) not in seen:
            seen.add(code)
            return code
        page.wait_for_timeout(100)
    raise AssertionError(f"no new SMS to {number} in the outbox")


# ---- the flows --------------------------------------------------------------------------------------------


def test_attach_log_on_trusting_the_device_log_on_again_without_a_code_and_delete(page, live):
    tenant, user = "web-attach", "alice@example.com"
    set_policy(live, tenant, two_factor="on", totp={"issuer": "Example Mail", "window": 2})
    switch(page, user, tenant, "settings")
    expect(heading(page, "Account Security")).to_be_focused()
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_have_text(
        re.compile("Settings.*Account and Security.*Account Security"))
    expect(row(page, "Authenticator app")).to_contain_text("Not attached")
    shot(page, "account-security")

    # Attach Authenticator: QR code, manual key, supported apps, code input and Attach Now.
    page.get_by_role("button", name="Attach Authenticator").click()
    expect(heading(page, "Attach Authenticator")).to_be_focused()
    app = App(read_qr(page))
    expect(page.locator("ul.apps li")).to_have_text(
        ["Alibaba Cloud App (recommended)", "Microsoft Authenticator", "Google Authenticator", "Authy"])
    shot(page, "attach-authenticator")

    page.get_by_label("Language").select_option("zh-CN")
    expect(heading(page, "绑定身份验证器")).to_be_visible()
    expect(page.get_by_role("button", name="立即绑定")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    shot(page, "attach-authenticator-zh-CN")
    page.reload()  # the choice is remembered
    expect(page.get_by_label("语言")).to_have_value("zh-CN")
    page.get_by_label("语言").select_option("en")
    page.get_by_role("button", name="Attach Authenticator").click()
    app = App(read_qr(page))  # the reload started a new enrollment

    # A wrong code: the API's message, announced, and the input marked.
    code_input = page.get_by_label("Verification code")
    code_input.fill(app.wrong_code())
    page.get_by_role("button", name="Attach Now").click()
    alert = page.locator("#attach-form-error")
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text(WRONG_CODE_MESSAGE)
    expect(alert).to_contain_text("4 attempts left")
    expect(code_input).to_have_attribute("aria-invalid", "true")

    code_input.fill(app.code())
    page.get_by_role("button", name="Attach Now").click()
    expect(heading(page, "Attachment successful")).to_be_visible()
    codes = page.locator("ol.codes li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-z]{4}-[0-9a-z]{4}", c) for c in codes)
    shot(page, "attachment-successful")
    page.get_by_role("button", name="Done").click()
    expect(row(page, "Authenticator app")).to_contain_text("Attached")
    expect(row(page, "Recovery codes")).to_contain_text("10 left")

    # Logon verification with Set as trusted device.
    switch(page, user, tenant, "logon")
    log_on(page)
    expect(heading(page, "Logon verification")).to_be_visible()
    expect(page.get_by_role("button", name="Use a recovery code")).to_be_visible()
    expect(page.get_by_role("button", name="Use SMS instead")).to_have_count(0)  # no secure phone
    shot(page, "logon-verification")
    page.get_by_label("Verification code").fill(app.code())
    page.get_by_label("Set as trusted device").check()
    page.get_by_role("button", name="Verify").click()
    expect(heading(page, "Logon verification complete")).to_be_visible()
    expect(page.get_by_text("This device is trusted until")).to_be_visible()
    expect(page.locator("#done-amr")).to_have_text("otp", use_inner_text=False)

    # The next logon on this device skips the code.
    page.get_by_role("button", name="Log on again").click()
    log_on(page)
    expect(page.get_by_text("Verification skipped: this is a trusted device.")).to_be_visible()
    expect(page.locator("#done-amr")).to_have_text("device", use_inner_text=False)
    shot(page, "logon-trusted-device")

    # Trusted devices lists it.
    switch(page, user, tenant, "settings")
    row(page, "Trusted devices").get_by_role("button", name="Manage").click()
    expect(heading(page, "Trusted devices")).to_be_visible()
    expect(page.locator("table tbody tr")).to_have_count(1)
    shot(page, "trusted-devices")
    page.get_by_role("button", name="Back to Account Security").click()

    # Delete Authenticator: a current code and Next.
    page.get_by_role("button", name="Delete Authenticator").click()
    expect(heading(page, "Delete Authenticator")).to_be_focused()
    expect(page.get_by_role("button", name="Lost your phone? Use a recovery code")).to_be_visible()
    page.get_by_label("Verification code").fill(app.code())
    shot(page, "delete-authenticator")
    page.get_by_role("button", name="Next").click()
    expect(heading(page, "The authenticator is deleted")).to_be_visible()
    shot(page, "authenticator-deleted")
    page.get_by_role("button", name="Back to Account Security").click()
    expect(row(page, "Authenticator app")).to_contain_text("Not attached")
    expect(row(page, "Trusted devices")).to_contain_text("0 trusted devices")


def test_admin_turns_two_factor_on_and_a_user_without_a_factor_attaches_at_logon(page, live):
    tenant = "web-admin"
    switch(page, "admin@example.com", tenant, "admin")
    expect(heading(page, "Two-factor authentication")).to_be_visible()
    expect(page.get_by_label("Off")).to_be_checked()

    page.get_by_label("On", exact=True).check()
    page.get_by_label("Grace days to attach").fill("14")
    page.get_by_label("Issuer").fill("Example Mail")
    page.get_by_label("Tolerance (steps each side)").select_option("2")
    warning = page.locator("#totp-warning")
    expect(warning).to_contain_text("Only SHA1, 6 digits and 30 seconds work in all four named apps")
    page.get_by_label("Algorithm").select_option("SHA256")
    expect(warning).to_have_class("warning")
    expect(warning).to_contain_text("Warning: only SHA1, 6 digits and 30 seconds work in all four named apps")
    shot(page, "admin-policy")
    page.get_by_label("Algorithm").select_option("SHA1")
    expect(warning).to_have_class("note")
    page.get_by_label("Lockout (seconds)").fill("0")  # out of range: said next to the field, nothing sent
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator("#policy-form-error")).to_contain_text("enter a whole number from 1 to 86400")
    page.get_by_label("Lockout (seconds)").fill("900")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_have_text("Policy saved (version 1).")
    expect(page.get_by_text("On since")).to_be_visible()

    # Method 1: Bob has no factor, so logon takes him to attach one; he may skip during the grace period.
    switch(page, "bob@example.com", tenant, "logon")
    log_on(page)
    expect(heading(page, "Set up two-factor authentication")).to_be_visible()
    expect(page.get_by_text("You can skip this until")).to_be_visible()
    expect(page.get_by_role("button", name="Skip for now")).to_be_visible()
    shot(page, "logon-method-1")
    page.get_by_role("button", name="Attach Authenticator").click()
    expect(heading(page, "Attach Authenticator")).to_be_visible()
    uri = read_qr(page)
    assert "issuer=Example%20Mail" in uri  # the issuer the admin saved
    app = App(uri)
    page.get_by_label("Verification code").fill(app.code())
    page.get_by_label("Verification code").press("Enter")
    expect(heading(page, "Attachment successful")).to_be_visible()
    recovery = page.locator("ol.codes li").first.inner_text()
    page.get_by_role("button", name="Continue").click()
    expect(heading(page, "Logon verification complete")).to_be_visible()
    expect(page.locator("#done-amr")).to_have_text("otp", use_inner_text=False)

    # Lost phone: log on with a recovery code.
    page.get_by_role("button", name="Log on again").click()
    log_on(page)
    page.get_by_role("button", name="Use a recovery code").click()
    page.get_by_label("Recovery code").fill(recovery)
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#done-amr")).to_have_text("recovery", use_inner_text=False)

    # Dave is locked out after five wrong codes (through the API: the admin screen is what is tested).
    dave = attach_by_api(live, "dave@example.com", tenant)
    logon = make_token("dave@example.com", tenant, "mfa:logon")
    for _ in range(5):
        requests.post(f"{live}/v1/logon/verify", json={"code": dave.wrong_code()},
                      headers={"Authorization": f"Bearer {logon}"}, timeout=10)

    # The admin looks Bob up, reads his audit trail, and resets him.
    switch(page, "admin@example.com", tenant, "admin")
    page.get_by_label("Mailbox address").fill("bob@example.com")
    page.get_by_role("button", name="Look up").click()
    summary = page.locator("#user-summary")
    expect(summary).to_contain_text("attached on")
    audit = page.locator("#audit")
    expect(audit).to_contain_text("Authenticator attached")
    expect(audit).to_contain_text("Recovery code used")
    shot(page, "admin-user-audit")
    page.get_by_role("button", name="Reset two-factor authentication").click()
    page.get_by_role("button", name="Yes, reset").click()
    expect(page.get_by_role("status")).to_have_text("Two-factor authentication of bob@example.com was reset.")
    expect(summary).to_contain_text("Not attached")
    expect(audit).to_contain_text("Reset by administrator")

    page.get_by_label("Mailbox address").fill("dave@example.com")
    page.get_by_role("button", name="Look up").click()
    expect(summary).to_contain_text("Locked until")
    page.get_by_role("button", name="Unlock").click()
    expect(summary).to_contain_text("Not locked")
    expect(audit).to_contain_text("Unlocked")


def attach_by_api(base: str, user: str, tenant: str) -> App:
    token = make_token(user, tenant, "mfa:settings")
    headers = {"Authorization": f"Bearer {token}"}
    enrolled = requests.post(f"{base}/v1/authenticator/enroll", json={}, headers=headers, timeout=10).json()
    app = App(enrolled["otpauth_uri"])
    confirmed = requests.post(f"{base}/v1/authenticator/confirm", headers=headers, timeout=10,
                              json={"enrollment_id": enrolled["enrollment_id"], "code": app.code()})
    assert confirmed.status_code == 200, confirmed.text
    return app


def test_secure_phone_sms_logon_and_security_passwords_on_a_360_px_screen(phone_page, live):
    page, tenant, user, number = phone_page, "web-phone", "carol@example.com", "+8613800005678"
    set_policy(live, tenant, two_factor="on")
    switch(page, user, tenant, "settings")
    page.get_by_role("button", name="Attach secure phone").click()
    page.get_by_label("Mobile number").fill("+86 138 0000 5678")
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_text("A verification code was sent to +86*******5678")).to_be_visible()
    page.get_by_label("Verification code from the SMS").fill(outbox_code(page, number))
    page.get_by_role("button", name="Attach", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Secure phone +86*******5678 attached.")
    expect(row(page, "Secure phone")).to_contain_text("+86*******5678")
    page.locator("#outbox summary").click()  # closed again for the screenshots

    # Third-party client security passwords: created, shown once, works at the gateway, revoked.
    row(page, "Third-party client security passwords").get_by_role("button", name="Manage").click()
    expect(heading(page, "Third-party client security passwords")).to_be_visible()
    page.get_by_label("Mail client").fill("Thunderbird")
    page.get_by_role("button", name="Create password").click()
    expect(heading(page, "Security password for Thunderbird")).to_be_focused()
    password = page.locator("#apppw-created .once").inner_text()
    assert re.fullmatch(r"[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}", password)
    gateway = {"Authorization": f"Bearer {make_token('imap-gateway', tenant, 'mfa:gateway')}"}
    check = requests.post(f"{live}/v1/app-passwords/check", json={"user": user, "password": password},
                          headers=gateway, timeout=10)
    assert check.json() == {"valid": True}
    shot(page, "security-passwords-360")
    page.get_by_role("button", name="Revoke Thunderbird").click()
    expect(page.get_by_role("status")).to_have_text("Security password revoked.")
    expect(page.get_by_text("No third-party client security passwords yet.")).to_be_visible()

    # Logon with the secure phone: one SMS per 30 s, so the service's clock moves on 31 s.
    clock = runtime.current().clock
    runtime.current().clock = lambda: time.time() + 31
    try:
        switch(page, user, tenant, "logon")
        log_on(page)
        expect(heading(page, "Logon verification")).to_be_visible()
        expect(page.get_by_text("We send a verification code by SMS to your secure phone.")).to_be_visible()
        page.get_by_role("button", name="Send code").click()
        expect(page.get_by_label("Verification code from the SMS")).to_be_focused()
        page.get_by_label("Verification code from the SMS").fill(outbox_code(page, number))
        shot(page, "logon-sms-360")
        page.get_by_role("button", name="Verify").click()
        expect(heading(page, "Logon verification complete")).to_be_visible()
        expect(page.locator("#done-amr")).to_have_text("sms", use_inner_text=False)

        # Delete the secure phone with a code sent to it, another 31 s on.
        runtime.current().clock = lambda: time.time() + 62
        switch(page, user, tenant, "settings")
        page.get_by_role("button", name="Delete secure phone").click()
        page.get_by_role("button", name="Send a code to my phone").click()
        page.get_by_label("Verification code (authenticator app or SMS)").fill(outbox_code(page, number))
        page.get_by_role("button", name="Delete secure phone").click()
        expect(page.get_by_role("status")).to_have_text("Secure phone deleted.")
        expect(row(page, "Secure phone")).to_contain_text("Not attached")
    finally:
        runtime.current().clock = clock


def test_keyboard_only_attach_with_errors_announced(page, live):
    tenant, user = "web-keys", "erin@example.com"
    switch(page, user, tenant, "settings")
    tab_to(page, "Attach Authenticator")
    page.keyboard.press("Enter")
    expect(heading(page, "Attach Authenticator")).to_be_focused()
    app = App(read_qr(page))

    # The QR code expires after 10 minutes (the service's clock moves on): a new one is offered, focused.
    clock = runtime.current().clock
    runtime.current().clock = lambda: time.time() + 601
    try:
        tab_to(page, "Verification code")
        page.keyboard.type(app.code())
        page.keyboard.press("Enter")
        expect(page.get_by_role("alert").filter(has_text="The QR code has expired.")).to_be_visible()
        expect(page.get_by_role("button", name="Get a new QR code")).to_be_focused()
    finally:
        runtime.current().clock = clock
    page.keyboard.press("Enter")
    expect(heading(page, "Attach Authenticator")).to_be_focused()
    app = App(read_qr(page))
    tab_to(page, "Verification code")
    page.keyboard.press("Enter")  # nothing typed: said at once, without a request
    expect(page.locator("#attach-form-error")).to_have_text("Enter the verification code.")
    expect(page.get_by_label("Verification code")).to_be_focused()
    page.keyboard.type(app.wrong_code())
    page.keyboard.press("Enter")
    expect(page.locator("#attach-form-error")).to_contain_text(WRONG_CODE_MESSAGE)
    expect(page.get_by_label("Verification code")).to_be_focused()
    page.keyboard.type(app.code())  # the wrong code is selected: typing replaces it
    page.keyboard.press("Enter")
    expect(heading(page, "Attachment successful")).to_be_focused()
    first_codes = page.locator("ol.codes li").all_inner_texts()
    page.get_by_role("button", name="Done").click()

    # New recovery codes for a current code.
    page.get_by_role("button", name="Get new recovery codes").click()
    page.get_by_label("Verification code").fill(app.code())
    page.get_by_role("button", name="Get new recovery codes").click()
    expect(page.get_by_role("status")).to_have_text("New recovery codes issued. The old ones no longer work.")
    new_codes = page.locator("ol.codes li").all_inner_texts()
    assert len(new_codes) == 10 and not set(new_codes) & set(first_codes)

    # Errors are translated by their code.
    page.get_by_label("Language").select_option("zh-CN")
    page.get_by_role("button", name="完成").click()
    page.get_by_role("button", name="删除身份验证器").click()
    page.get_by_label("验证码").fill(app.wrong_code())
    page.get_by_role("button", name="下一步").click()
    expect(page.locator("#delete-form-error")).to_contain_text("验证码错误或已过期。")


def tab_to(page: Page, name: str, limit: int = 40) -> None:
    """Press Tab until the element with this accessible name (a button's text or an input's label) has focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const el = document.activeElement;
            return (el.labels && el.labels.length ? el.labels[0].textContent : el.textContent || '').trim(); }""")
        if focused == name:
            return
    raise AssertionError(f"{name!r} is not reachable with Tab")



def test_embedded_by_the_mail_product_the_page_takes_the_fragments_token_and_posts_the_logon_result(browser, live):
    """Deployed use: the mail product frames the page with `#token=...&origin=...`; no dev bar; the logon
    result comes back by postMessage to that origin only."""
    import http.server
    import threading

    tenant, user = "web-embed", "frank@example.com"
    token = make_token(user, tenant, "mfa:logon")

    class MailProduct(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            origin = f"http://127.0.0.1:{self.server.server_port}"
            body = f"""<!doctype html><title>Mail</title>
<script>addEventListener("message", e => {{ if (e.origin === "{live}") window.mfaResult = e.data; }});</script>
<iframe title="MFA" width="900" height="700" src="{live}/#token={token}&origin={origin}&lang=zh-CN"></iframe>"""
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    mail = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MailProduct)
    threading.Thread(target=mail.serve_forever, daemon=True).start()
    mail_origin = f"http://127.0.0.1:{mail.server_port}"
    saved = os.environ.get("MFA_CORS_ORIGINS")
    os.environ["MFA_CORS_ORIGINS"] = mail_origin  # frame-ancestors: the tenant's own pages only
    runtime.reset()
    page = new_page(browser)
    try:
        page.goto(mail_origin + "/")
        frame = page.frame_locator("iframe")
        expect(frame.get_by_role("heading", name="登录验证完成")).to_be_visible()  # two-factor is off: done
        expect(frame.locator("#devbar")).to_be_hidden()
        result = page.wait_for_function("window.mfaResult").json_value()
        assert result["type"] == "mfa:logon-complete"
        claims = jwt.decode(result["mfa_token"], DEV_SECRET, algorithms=["HS256"], audience="mail")
        assert claims["sub"] == user and claims["tenant"] == tenant and claims["amr"] == ["none"]
        assert "token=" not in page.frames[1].url  # out of the address bar (and history) at once
        assert page.problems == []
    finally:
        page.context.close()
        mail.shutdown()
        if saved is None:
            os.environ.pop("MFA_CORS_ORIGINS", None)
        else:
            os.environ["MFA_CORS_ORIGINS"] = saved
        runtime.reset()
