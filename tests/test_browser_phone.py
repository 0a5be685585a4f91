"""The reference page in a real browser (tests/helpers_browser.py) on a 360 px screen: a secure phone attached
with an SMS code, a third-party client security password created and revoked, logon by SMS, the phone deleted."""

from __future__ import annotations

import re
import time

import requests
from playwright.sync_api import Page, expect

from mfa_core import runtime
from tests.conftest import make_token
from tests.helpers_browser import heading, log_on, row, set_policy, shot, switch

pytest_plugins = ["tests.helpers_browser"]  # the browser and phone_page fixtures


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


def test_secure_phone_sms_logon_and_security_passwords_on_a_360_px_screen(phone_page, live):
    page, tenant, user, number = phone_page, "web-phone", "carol@example.com", "+8613800005678"
    set_policy(live, tenant, two_factor="on")
    switch(page, user, tenant, "settings")
    page.get_by_role("button", name="Attach secure phone").click()
    # A number without its country code: the API says how it should be written, in the page's language.
    page.get_by_label("Mobile number").fill("138 0000 5678")
    page.get_by_role("button", name="Send code").click()
    error = page.locator("#phone-number-form-error")
    expect(error).to_have_text("Enter the number in international format: + and the country code, then the number, "
                               "like +86 138 0000 1234.")
    expect(page.get_by_label("Mobile number")).to_have_attribute("aria-invalid", "true")
    page.locator("#lang").select_option("zh-CN")
    page.get_by_role("button", name="发送验证码").click()
    expect(error).to_have_text("请按国际格式输入号码：+ 加国家代码，再加号码，例如 +86 138 0000 1234。")
    # A country the organization sends no SMS to: said with its code, in the page's language too.
    set_policy(live, tenant, two_factor="on", sms={"countries": ["+86", "+852"]})
    page.get_by_label("手机号码").fill("+1 202 555 0143")
    page.get_by_role("button", name="发送验证码").click()
    expect(error).to_have_text("您的组织不向国家代码为 +1 的号码发送短信。请使用其他国家的号码，或使用身份验证器应用。")
    shot(page, "phone-country-refused-360-zh-CN")
    page.locator("#lang").select_option("en")
    page.get_by_role("button", name="Send code").click()
    expect(error).to_have_text("Your organization does not send SMS to numbers with the country code +1. "
                               "Use a number of another country, or an authenticator app.")
    shot(page, "phone-country-refused-360")
    page.get_by_label("Mobile number").fill("+86 138 0000 5678")
    page.get_by_role("button", name="Send code").click()
    expect(page.get_by_text("A verification code was sent to +86*******5678")).to_be_visible()
    page.get_by_label("Verification code from the SMS").fill(outbox_code(page, number))
    page.get_by_role("button", name="Attach", exact=True).click()
    expect(row(page, "Secure phone").get_by_role("status")).to_contain_text("Secure phone +86*******5678 attached.")
    expect(row(page, "Secure phone")).to_contain_text("+86*******5678")
    page.locator("#outbox summary").click()  # closed again for the screenshots

    # Third-party client security passwords: created, shown once, works at the gateway, revoked.
    row(page, "Third-party client security passwords").get_by_role("button", name="Manage").click()
    expect(heading(page, "Third-party client security passwords")).to_be_visible()
    page.get_by_label("Mail client").fill("Thunder\u0007bird")  # a control character: the API's own words say why
    page.get_by_role("button", name="Create password").click()
    expect(page.locator("#apppw-form-error")).to_have_text("label must be 1-64 printable characters.")
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
    page.get_by_role("button", name="Back to Account Security").click()  # not copied: leaving it asks first
    expect(page.get_by_role("alertdialog")).to_contain_text("This security password is shown only now")
    page.get_by_role("button", name="Stay and save them").click()
    expect(page.locator("#apppw-created .once")).to_have_text(password)
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
