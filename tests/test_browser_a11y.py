"""Accessibility measured in a real browser (tests/helpers_browser.py): axe-core on every screen of the page, in
English and Chinese, on a desktop and at 360 px, with no violation but those listed below with their reason; a
walk of attach -> logon -> delete with the keyboard alone; and the README's screenshots saved only when asked."""

from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import Page, expect

from infra import npm
from tests.conftest import make_token
from tests.helpers_browser import (
    DESKTOP,
    PHONE,
    SCREENSHOTS_ENV,
    App,
    attach_by_api,
    heading,
    log_on,
    new_page,
    read_qr,
    row,
    set_policy,
    shot,
    switch,
    tab_to,
)

pytest_plugins = ["tests.helpers_browser"]  # the browser fixture

AXE = "axe-core@4.14.1"
# What the registry reported for the tarball: a re-published or tampered copy is refused.
AXE_INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
# axe rules the page is allowed to fail, each with the reason (none today).
ACCEPTED: dict[str, str] = {}
# Screens no walk stops at, each with the reason.
UNCHECKED = {"loading": "shown only while a screen's first request is in flight: one line of text, no control"}
LANGUAGES = ("en", "zh-CN")
SIZES = {"desktop": DESKTOP, "360 px": PHONE}

SETTINGS_SCREENS = {"settings", "attach", "attached", "recovery", "phone", "apppw", "delete", "deleted"}
LOGON_SCREENS = {"logon_password", "logon", "logon_done", "devices", "logon_enroll"}
ADMIN_SCREENS = {"admin"}
OPENED_SCREENS = {"start", "problem", "handoff_refused"}
ACCESS_PASS_SCREENS = {"admin", "logon", "logon_pass_attach"}


@pytest.fixture(scope="module")
def axe_script():
    """axe.min.js from the pinned npm package, fetched into .cache/axe-core/ the first time (as DynamoDB Local is)."""
    try:
        return npm.fetch(AXE, AXE_INTEGRITY, npm.CACHE / "axe-core") / "axe.min.js"
    except npm.Unavailable as e:
        pytest.fail(f"axe-core: {e}", pytrace=False)


class Audit:
    """axe-core on each screen a walk reaches, in both languages and both sizes; what it finds is kept, so that one
    run lists every violation of the walk."""

    def __init__(self, browser, axe_script) -> None:
        # The page's Content-Security-Policy (script-src 'self') would refuse the injected axe script.
        self.page = new_page(browser, bypass_csp=True)
        self.axe = axe_script
        self.screens: set[str] = set()
        self.violations: list[str] = []

    def check(self, screen: str) -> None:
        """axe on `screen` (a name in app.js's VIEWS), once the page shows it."""
        page = self.page
        page.wait_for_function("screen => state.view === screen", arg=screen)
        self.screens.add(screen)
        if not page.evaluate("typeof axe === 'object'"):
            page.add_script_tag(path=str(self.axe))
        shown = page.locator("#lang").input_value()
        for language in LANGUAGES:
            page.locator("#lang").select_option(language)
            expect(page.locator("html")).to_have_attribute("lang", language)
            for size, viewport in SIZES.items():
                page.set_viewport_size(viewport)
                for found in page.evaluate("""async () => (await axe.run(document, { resultTypes: ["violations"] }))
                    .violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                            nodes: v.nodes.map(n => n.target.join(" ")) }))"""):
                    if found["id"] not in ACCEPTED:
                        self.violations.append(f"{screen} ({language}, {size}): {found['id']} ({found['impact']}) "
                                               f"{found['help']}: {found['nodes']}")
        page.set_viewport_size(DESKTOP)
        page.locator("#lang").select_option(shown)

    def close(self) -> None:
        assert self.page.problems == []
        self.page.context.close()


@pytest.fixture
def audit(browser, live, axe_script):
    audit = Audit(browser, axe_script)
    audit.page.goto(live + "/")
    yield audit
    audit.close()


def last_sms_code(base: str, number: str) -> str:
    sms = [m for m in requests.get(f"{base}/v1/dev/outbox", timeout=10).json()["sms"] if m["to"] == number]
    return re.search(r"\b(\d{6})\b", sms[-1]["message"]).group(1)


def attach_authenticator(page: Page) -> App:
    page.get_by_role("button", name="Attach Authenticator").click()
    app = App(read_qr(page))
    page.get_by_label("Verification code").fill(app.code())
    page.get_by_role("button", name="Attach Now").click()
    expect(heading(page, "Attachment successful")).to_be_visible()
    return app


def attach_phone(page: Page, base: str, number: str, audit: Audit | None = None) -> None:
    page.get_by_role("button", name="Attach secure phone").click()
    if audit:
        audit.check("phone")
    page.get_by_label("Mobile number").fill(number)
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_label("Verification code from the SMS")).to_be_focused()
    if audit:
        audit.check("phone")  # the code sent
    page.get_by_label("Verification code from the SMS").fill(last_sms_code(base, number))
    page.get_by_role("button", name="Attach", exact=True).click()
    expect(row(page, "Secure phone")).to_contain_text(number[-4:])


def test_every_settings_screen_passes_axe_in_both_languages_and_at_360_px(audit, live):
    page, tenant = audit.page, "a11y-settings"
    set_policy(live, tenant, two_factor="on", totp={"issuer": "Example Mail", "window": 2})
    switch(page, "alice@example.com", tenant, "settings")
    audit.check("settings")
    page.get_by_role("button", name="Attach Authenticator").click()
    audit.check("attach")
    page.get_by_role("button", name="Cancel").click()
    app = attach_authenticator(page)
    audit.check("attached")
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("alertdialog")).to_be_focused()  # the codes are neither copied nor downloaded
    audit.check("attached")
    page.get_by_role("button", name="Done").click()  # the language changes drew the screen again, without it
    page.get_by_role("button", name="Leave without saving").click()

    page.get_by_role("button", name="Get new recovery codes").click()
    audit.check("recovery")
    page.get_by_label("Verification code").fill(app.code())
    page.get_by_role("button", name="Get new recovery codes").click()
    expect(page.locator("ol.codes li")).to_have_count(10)
    audit.check("recovery")
    page.get_by_role("button", name="Done").click()
    page.get_by_role("button", name="Leave without saving").click()

    attach_phone(page, live, "+8613800007001", audit)
    audit.check("settings")  # Account Security with every factor
    page.get_by_role("button", name="Delete secure phone").click()
    audit.check("phone")
    page.get_by_role("button", name="Cancel").click()

    row(page, "Third-party client security passwords").get_by_role("button", name="Manage").click()
    audit.check("apppw")
    page.get_by_label("Mail client").fill("Thunderbird")
    page.get_by_role("button", name="Create password").click()
    expect(heading(page, "Security password for Thunderbird")).to_be_visible()
    audit.check("apppw")
    page.get_by_role("button", name="Back to Account Security").click()
    page.get_by_role("button", name="Leave without saving").click()  # the password was not copied

    page.get_by_role("button", name="Delete Authenticator").click()
    audit.check("delete")
    page.get_by_role("button", name="Lost your phone? Use a recovery code").click()
    audit.check("delete")
    page.get_by_role("button", name="Use a code from the authenticator app").click()
    page.get_by_label("Verification code").fill(app.code())
    page.get_by_role("button", name="Next").click()
    expect(heading(page, "The authenticator is deleted")).to_be_visible()
    audit.check("deleted")
    assert audit.screens == SETTINGS_SCREENS
    assert audit.violations == [], "\n".join(audit.violations)


def test_every_logon_screen_passes_axe_in_both_languages_and_at_360_px(audit, live):
    page, tenant, user = audit.page, "a11y-logon", "bob@example.com"
    set_policy(live, tenant, two_factor="on", enroll_grace_days=14, totp={"window": 2})
    switch(page, user, tenant, "settings")
    app = attach_authenticator(page)
    page.get_by_role("button", name="Done").click()
    page.get_by_role("button", name="Leave without saving").click()
    attach_phone(page, live, "+8613800007002")

    switch(page, user, tenant, "logon")
    audit.check("logon_password")
    log_on(page)
    expect(heading(page, "Logon verification")).to_be_visible()
    audit.check("logon")
    page.get_by_role("button", name="Use SMS instead").click()
    audit.check("logon")
    page.get_by_role("button", name="Use a recovery code").click()
    audit.check("logon")
    page.get_by_role("button", name="Use the authenticator app").click()
    page.get_by_label("Verification code").fill(app.code())
    page.get_by_label("Set as trusted device").check()
    page.get_by_role("button", name="Verify").click()
    expect(heading(page, "Logon verification complete")).to_be_visible()
    audit.check("logon_done")

    switch(page, user, tenant, "settings")
    row(page, "Trusted devices").get_by_role("button", name="Manage").click()
    expect(page.locator("table tbody tr")).to_have_count(1)
    audit.check("devices")

    switch(page, "carol@example.com", tenant, "logon")  # no factor yet: Method 1, skippable
    log_on(page)
    expect(page.get_by_role("button", name="Skip for now")).to_be_visible()
    audit.check("logon_enroll")
    assert audit.screens == LOGON_SCREENS
    assert audit.violations == [], "\n".join(audit.violations)


def test_the_admin_screen_passes_axe_in_both_languages_and_at_360_px(audit, live):
    page, tenant = audit.page, "a11y-admin"
    set_policy(live, tenant, two_factor="on")  # an event in the admin's own trail
    switch(page, "admin@example.com", tenant, "admin")
    audit.check("admin")
    page.get_by_label("Mailbox address").fill("admin@example.com")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#audit tbody tr")).to_have_count(1)
    audit.check("admin")
    page.get_by_role("button", name="Reset two-factor authentication").click()
    expect(page.get_by_role("button", name="Yes, reset")).to_be_focused()
    audit.check("admin")
    assert audit.screens == ADMIN_SCREENS
    assert audit.violations == [], "\n".join(audit.violations)


def test_the_tenant_overview_and_a_temporary_access_pass_pass_axe(audit, live):
    page, tenant = audit.page, "a11y-pass"
    set_policy(live, tenant, two_factor="on", totp={"window": 2})
    app = attach_by_api(live, "frank@example.com", tenant)
    logon = make_token("frank@example.com", tenant, "mfa:logon")
    for code in (app.code(), app.wrong_code()):  # a day with numbers in the chart
        headers = {"Authorization": f"Bearer {logon}"}
        requests.post(f"{live}/v1/logon/verify", json={"code": code}, headers=headers, timeout=10)
    switch(page, "admin@example.com", tenant, "admin")
    expect(page.locator("#days-chart")).to_be_visible()
    page.get_by_text("Show the numbers").click()
    audit.check("admin")
    page.get_by_role("button", name="Issue temporary access pass to frank@example.com").click()
    expect(page.get_by_label("Valid for (hours)")).to_be_focused()
    audit.check("admin")
    page.get_by_role("button", name="Issue pass").click()
    access_pass = page.locator("#pass-value").inner_text()
    audit.check("admin")

    switch(page, "frank@example.com", tenant, "logon")
    log_on(page)
    page.get_by_role("button", name="Use a temporary access pass").click()
    audit.check("logon")
    page.get_by_label("Temporary access pass").fill(access_pass)
    page.get_by_role("button", name="Verify").click()
    expect(heading(page, "Attach a new authenticator")).to_be_visible()
    audit.check("logon_pass_attach")
    assert audit.screens == ACCESS_PASS_SCREENS
    assert audit.violations == [], "\n".join(audit.violations)


def test_the_screens_of_a_page_opened_by_the_mail_product_pass_axe(audit, live):
    page = audit.page
    opened = {
        "start": make_token("imap-gateway", "a11y-opened", "mfa:gateway"),  # no screen for this scope
        "problem": make_token("dave@example.com", "a11y-opened", "mfa:settings", now=time.time() - 3600),  # expired
        "handoff_refused": make_token("dave@example.com", "a11y-opened", "mfa:logon")
        + "&origin=https://elsewhere.example",
    }
    for screen, fragment in opened.items():
        page.goto("about:blank")
        page.goto(f"{live}/#token={fragment}")
        expect(page.locator("#main h2")).to_be_focused()
        audit.check(screen)
    assert audit.screens == OPENED_SCREENS
    assert audit.violations == [], "\n".join(audit.violations)


def test_every_screen_of_the_page_is_in_one_of_the_walks(audit):
    screens = set(audit.page.evaluate("Object.keys(VIEWS)"))
    walked = SETTINGS_SCREENS | LOGON_SCREENS | ADMIN_SCREENS | OPENED_SCREENS | ACCESS_PASS_SCREENS
    assert screens - walked - set(UNCHECKED) == set(), "a screen no axe walk reaches"
    assert walked | set(UNCHECKED) <= screens


def test_attach_log_on_and_delete_with_the_keyboard_alone(browser, live):
    """Tab, Enter and Space (and typing the codes): no click anywhere. The mail product opens the page with each
    token, as deployed."""
    tenant, user = "a11y-keys", "erin@example.com"
    set_policy(live, tenant, two_factor="on", totp={"window": 2})

    def opened(scope: str) -> Page:
        page = new_page(browser)
        page.goto(f"{live}/#token={make_token(user, tenant, scope)}")
        return page

    page = opened("mfa:settings")
    expect(heading(page, "Account Security")).to_be_focused()
    tab_to(page, "Attach Authenticator")
    page.keyboard.press("Enter")
    expect(heading(page, "Attach Authenticator")).to_be_focused()
    app = App(read_qr(page))
    tab_to(page, "Verification code")
    page.keyboard.type(app.code())
    tab_to(page, "Attach Now")
    page.keyboard.press("Space")
    expect(heading(page, "Attachment successful")).to_be_focused()
    tab_to(page, "Download")
    with page.expect_download():  # the codes saved: Done leaves at once
        page.keyboard.press("Enter")
    tab_to(page, "Done")
    page.keyboard.press("Enter")
    expect(row(page, "Authenticator app")).to_contain_text("Attached")
    assert page.problems == []
    page.context.close()

    page = opened("mfa:logon")
    expect(heading(page, "Logon verification")).to_be_focused()
    tab_to(page, "Verification code")
    page.keyboard.type(app.code())
    tab_to(page, "Set as trusted device")
    page.keyboard.press("Space")
    expect(page.get_by_label("Set as trusted device")).to_be_checked()
    tab_to(page, "Verify")
    page.keyboard.press("Enter")
    expect(heading(page, "Logon verification complete")).to_be_focused()
    expect(page.get_by_text("This device is trusted until")).to_be_visible()
    assert page.problems == []
    page.context.close()

    page = opened("mfa:settings")
    tab_to(page, "Delete Authenticator")
    page.keyboard.press("Space")
    expect(heading(page, "Delete Authenticator")).to_be_focused()
    tab_to(page, "Verification code")
    page.keyboard.type(app.code())
    page.keyboard.press("Enter")
    expect(heading(page, "The authenticator is deleted")).to_be_focused()
    tab_to(page, "Back to Account Security")
    page.keyboard.press("Enter")
    expect(row(page, "Authenticator app")).to_contain_text("Not attached")
    expect(row(page, "Trusted devices")).to_contain_text("0 trusted devices")  # deleting ended the trust
    assert page.problems == []
    page.context.close()


def test_screenshots_are_saved_only_when_make_screenshots_asks(page, tmp_path, monkeypatch):
    """`make test` leaves docs/screenshots/ as it is; `make screenshots` names the folder in MFA_SCREENSHOTS."""
    from tests.conftest import ROOT

    readme_shots = ROOT / "docs" / "screenshots"
    before = {p.name: p.stat().st_mtime_ns for p in readme_shots.glob("*.png")}
    monkeypatch.delenv(SCREENSHOTS_ENV, raising=False)
    shot(page, "account-security")
    assert {p.name: p.stat().st_mtime_ns for p in readme_shots.glob("*.png")} == before
    monkeypatch.setenv(SCREENSHOTS_ENV, str(tmp_path))
    shot(page, "account-security")
    assert (tmp_path / "account-security.png").read_bytes().startswith(b"\x89PNG")
