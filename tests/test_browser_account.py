"""The reference page in a real browser (tests/helpers_browser.py), Account Security: attach, logon with Set as
trusted device, logon skipped on that device, delete with Next; and the same attach with the keyboard only, its
errors announced, new recovery codes, an error in Chinese."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

from mfa_core import runtime
from tests.helpers_browser import WRONG_CODE_MESSAGE, App, heading, log_on, read_qr, row, set_policy, shot, switch

pytest_plugins = ["tests.helpers_browser"]  # the browser and page fixtures


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
