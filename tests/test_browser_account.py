"""The reference page in a real browser (tests/helpers_browser.py), Account Security: attach, logon with Set as
trusted device, logon skipped on that device, delete with Next; and the same attach with the keyboard only, its
errors announced, new recovery codes, an error in Chinese."""

from __future__ import annotations

import re
import time

import pyotp
import requests
from playwright.sync_api import expect

from mfa_core import runtime
from tests.conftest import make_token
from tests.helpers_browser import (
    WRONG_CODE_MESSAGE,
    App,
    attach_by_api,
    heading,
    log_on,
    new_page,
    read_qr,
    row,
    sent,
    set_policy,
    shot,
    switch,
    tab_to,
    watch,
)

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
    page.reload()  # the choice is remembered, and the page is where it was: the QR code scanned still works
    expect(page.get_by_label("语言")).to_have_value("zh-CN")
    expect(heading(page, "绑定身份验证器")).to_be_visible()
    page.get_by_label("语言").select_option("en")
    assert App(read_qr(page)).secret == app.secret

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
    page.get_by_role("button", name="Leave without saving").click()  # the codes were not copied or downloaded
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
    expect(row(page, "Trusted devices")).to_contain_text("1 trusted device skips verification at logon.")
    row(page, "Trusted devices").get_by_role("button", name="Manage").click()
    expect(heading(page, "Trusted devices")).to_be_visible()
    expect(page.locator("table tbody tr")).to_have_count(1)
    expect(page.locator("table caption")).to_have_text("1 trusted device")
    expect(page.locator("table tbody td").first).to_have_text("Chrome on Linux")  # its User-Agent, parsed by the page
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
    page.get_by_role("button", name="Leave without saving").click()

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
    page.get_by_role("button", name="不保存，离开").click()
    page.get_by_role("button", name="删除身份验证器").click()
    page.get_by_label("验证码").fill(app.wrong_code())
    page.get_by_role("button", name="下一步").click()
    expect(page.locator("#delete-form-error")).to_contain_text("验证码错误或已过期。")


def test_a_second_tab_resumes_the_qr_code_and_an_old_tab_whose_code_was_replaced_says_so(page, live):
    tenant, user = "web-tabs", "grace@example.com"
    switch(page, user, tenant, "settings")
    page.get_by_role("button", name="Attach Authenticator").click()
    app = App(read_qr(page))
    expect(page).to_have_url(re.compile("#/attach$"))

    # A second tab on Attach shows the enrollment already waiting, not a new secret.
    second = watch(page.context.new_page())
    second.goto(live + "/#/attach")
    assert App(read_qr(second)).secret == app.secret
    second.close()
    assert second.problems == []

    # Another device starts a new enrollment: this tab's code is no longer the pending one.
    token = make_token(user, tenant, "mfa:settings")
    newer = requests.post(f"{live}/v1/authenticator/enroll", json={}, headers={"Authorization": f"Bearer {token}"},
                          timeout=10).json()
    page.get_by_label("Verification code").fill(app.code())
    page.get_by_role("button", name="Attach Now").click()
    expect(page.get_by_role("alert").filter(has_text="This QR code was replaced by a newer one")).to_be_visible()
    expect(page.get_by_text("expired")).to_have_count(0)
    page.get_by_role("button", name="Show the new QR code").click()
    app = App(read_qr(page))
    assert app.secret == pyotp.parse_uri(newer["otpauth_uri"]).secret
    page.get_by_label("Verification code").fill(app.wrong_code())
    page.get_by_role("button", name="Attach Now").click()
    expect(page.locator("#attach-form-error")).to_contain_text("4 attempts left")  # the replaced code cost none
    page.get_by_label("Verification code").fill(app.code())
    page.get_by_role("button", name="Attach Now").click()
    expect(heading(page, "Attachment successful")).to_be_visible()


def test_what_cannot_be_a_code_is_refused_before_it_is_sent_and_costs_no_attempt(page, live):
    tenant, user = "web-forms", "heidi@example.com"
    set_policy(live, tenant, two_factor="on")
    app = attach_by_api(live, user, tenant)
    switch(page, user, tenant, "logon")
    log_on(page)
    verifies = sent(page, "/v1/logon/verify")
    code_input = page.get_by_label("Verification code")
    refused = ("A verification code is 6 or 8 digits (0-9; spaces are fine). "
               "Check it and enter it again: nothing was sent.")
    for typed in ("12345", "12a456", "Code: 123456", "１２３４５６", "1234567"):
        code_input.fill(typed)
        page.get_by_role("button", name="Verify").click()
        expect(page.locator("#logon-form-error")).to_have_text(refused)
        expect(code_input).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Use a recovery code").click()
    page.get_by_label("Recovery code").fill("abcd-efg")  # 7 characters
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#logon-form-error")).to_contain_text("A recovery code is 8 letters and digits")
    assert verifies == []

    # A wrong code of the right form is sent and counted: the attempts left show none was spent before.
    page.get_by_role("button", name="Use the authenticator app").click()
    for lang, expected in (("en", "The verification code is incorrect or has expired. 4 attempts left."),
                           ("zh-CN", "验证码错误或已过期。还可尝试 3 次。"),  # no space between Chinese sentences
                           ("en", "The verification code is incorrect or has expired. 2 attempts left."),
                           ("en", "The verification code is incorrect or has expired. 1 attempt left.")):
        page.locator("#lang").select_option(lang)
        wrong = app.wrong_code()
        page.locator("#logon-code").fill(wrong[:3] + " " + wrong[3:])  # spaces are fine
        page.locator("#logon-form button[type=submit]").click()
        expect(page.locator("#logon-form-error")).to_have_text(expected)
    assert len(verifies) == 4


def test_every_screen_has_an_address_and_unsaved_recovery_codes_are_not_left_by_accident(page, live):
    tenant, user = "web-history", "ivan@example.com"
    switch(page, user, tenant, "settings")
    expect(page).to_have_url(re.compile("#/security$"))
    row(page, "Trusted devices").get_by_role("button", name="Manage").click()
    expect(page).to_have_url(re.compile("#/devices$"))
    page.reload()
    expect(heading(page, "Trusted devices")).to_be_visible()  # a reload lands on the same screen
    page.go_back()
    expect(heading(page, "Account Security")).to_be_visible()
    page.go_forward()
    expect(heading(page, "Trusted devices")).to_be_visible()
    page.go_back()

    page.get_by_role("button", name="Attach Authenticator").click()
    app = App(read_qr(page))
    page.get_by_label("Verification code").fill(app.code())
    page.get_by_role("button", name="Attach Now").click()
    expect(heading(page, "Attachment successful")).to_be_visible()
    expect(page).to_have_url(re.compile("#/attach/done$"))
    codes = page.locator("ol.codes li").all_inner_texts()

    # Done, Back and a reload each ask before the codes, shown once, go unsaved.
    page.get_by_role("button", name="Done").click()
    warning = page.get_by_role("alertdialog")
    expect(warning).to_contain_text("Your recovery codes are shown only now")
    expect(warning).to_be_focused()
    warning.get_by_role("button", name="Stay and save them").click()
    expect(warning).to_have_count(0)
    page.go_back()
    expect(warning).to_contain_text("Your recovery codes are shown only now")
    expect(page).to_have_url(re.compile("#/attach/done$"))
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.evaluate("location.reload()")
    for _ in range(50):
        if asked:
            break
        page.wait_for_timeout(100)
    assert asked == ["beforeunload"]
    expect(page.locator("ol.codes li")).to_have_text(codes)

    # Downloaded, they are saved: the file says whose they are, for which service and when.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert f"Account: {user}" in text and f"Service: {tenant} ({live}/)" in text and "Created: " in text
    assert text.split("\n")[-11:-1] == codes
    page.get_by_role("button", name="Done").click()
    expect(heading(page, "Account Security")).to_be_visible()
    page.get_by_label("Language").select_option("zh-CN")
    expect(row(page, "身份验证器")).to_contain_text("身份验证器，")  # the API's default name, in the page's language
    expect(row(page, "身份验证器")).not_to_contain_text("Authenticator app")


def test_the_qr_code_counts_down_and_when_it_expires_a_new_one_is_offered_without_sending_a_code(browser, live):
    page = new_page(browser)
    page.clock.install()
    page.goto(live + "/")
    switch(page, "judy@example.com", "web-clock", "settings")
    page.get_by_role("button", name="Attach Authenticator").click()
    first = App(read_qr(page))
    expires = page.locator("#qr-expires")
    expect(expires).to_have_text(re.compile(r"^This QR code works for another (10:00|9:5\d) \(until .+\)\.$"))
    page.clock.fast_forward("05:00")
    expect(expires).to_have_text(re.compile(r"another (5:00|4:5\d) "))
    confirms = sent(page, "/v1/authenticator/confirm")
    page.get_by_label("Verification code").fill(first.code())
    page.clock.fast_forward("05:01")
    expect(page.get_by_role("alert").filter(has_text="The QR code has expired.")).to_be_visible()
    expect(expires).to_have_text(re.compile("^This QR code expired at "))
    expect(page.get_by_role("button", name="Get a new QR code")).to_be_focused()
    assert confirms == []
    page.get_by_role("button", name="Get a new QR code").click()
    expect(expires).to_have_text(re.compile(r"another (10:00|9:5\d) "))
    assert App(read_qr(page)).secret != first.secret
    assert page.problems == []
    page.context.close()
