"""The reference page in a real browser (tests/helpers_browser.py), the admin's screens: the admin turns
two-factor on and a user without a factor attaches at logon (Method 1), logs on with a recovery code; the admin
looks users up, reads the audit trail, resets one and unlocks another."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from tests.conftest import make_token
from tests.helpers_browser import App, attach_by_api, heading, log_on, read_qr, set_policy, shot, switch

pytest_plugins = ["tests.helpers_browser"]  # the browser and page fixtures


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
    expect(page.locator("#policy-form").get_by_role("status")).to_have_text("Policy saved (version 1).")
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
    page.get_by_role("button", name="Leave without saving").click()  # the codes were not copied or downloaded
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
    # Details in words, not the API's keys.
    expect(audit).to_contain_text("Factor: Authenticator app, Status: waiting for its first code")
    expect(audit).to_contain_text("Method: Recovery code")
    expect(audit).not_to_contain_text("pending: true")
    shot(page, "admin-user-audit")
    page.get_by_role("button", name="Reset two-factor authentication").click()
    page.get_by_role("button", name="Yes, reset").click()
    expect(summary.get_by_role("status")).to_have_text("Two-factor authentication of bob@example.com was reset.")
    expect(summary).to_contain_text("Not attached")
    expect(audit).to_contain_text("Reset by administrator")

    page.get_by_label("Mailbox address").fill("dave@example.com")
    page.get_by_role("button", name="Look up").click()
    expect(summary).to_contain_text("Locked until")
    expect(audit).to_contain_text("Attempts left: 0")
    page.locator("#lang").select_option("zh-CN")
    expect(audit).to_contain_text("剩余尝试次数：0")
    page.locator("#lang").select_option("en")
    page.get_by_role("button", name="Unlock", exact=True).click()
    expect(summary).to_contain_text("Not locked")
    expect(audit).to_contain_text("Unlocked")



def test_on_a_360_px_screen_a_stale_save_keeps_the_admins_edits_and_the_user_summary_reads_in_words(phone_page, live):
    page, tenant = phone_page, "web-admin-360"
    switch(page, "admin@example.com", tenant, "admin")
    expect(page.get_by_label("Off")).to_be_checked()
    page.get_by_label("Issuer").fill("Acme Mail")
    page.get_by_label("Grace days to attach").fill("14")
    # Meanwhile another admin saves a shorter trust and SMS off.
    set_policy(live, tenant, trusted_device_days=7, methods=["authenticator"])
    save = page.get_by_role("button", name="Save policy")
    save.click()
    conflict = page.locator("#policy-conflict")
    expect(conflict).to_contain_text("Someone else saved the policy meanwhile (now version 1).")
    expect(conflict).to_contain_text("Trusted device days: 30 → 7")
    expect(conflict).to_contain_text("Methods users may attach › Secure phone (SMS): On → Off")
    expect(conflict).to_contain_text("Your edits are kept on top of theirs")
    near(conflict, save)
    expect(page.get_by_label("Issuer")).to_have_value("Acme Mail")  # this admin's edits stay...
    expect(page.get_by_label("Grace days to attach")).to_have_value("14")
    expect(page.get_by_label("Trusted device days")).to_have_value("7")  # ...on top of theirs
    expect(page.get_by_label("Secure phone (SMS)")).not_to_be_checked()
    save.click()
    saved = page.locator("#policy-form").get_by_role("status")
    expect(saved).to_have_text("Policy saved (version 2).")
    near(saved, save)
    token = make_token("admin@example.com", tenant, "mfa:admin")
    policy = requests.get(f"{live}/v1/policy", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    kept = (policy["totp"]["issuer"], policy["enroll_grace_days"], policy["trusted_device_days"], policy["methods"])
    assert kept == ("Acme Mail", 14, 7, ["authenticator"])

    # The user summary: each value on its own readable lines, not one letter a line.
    page.get_by_label("Mailbox address").fill("nobody@example.com")
    page.get_by_role("button", name="Look up").click()
    found = page.locator("#lookup-form").get_by_role("status")
    expect(found).to_have_text("Showing nobody@example.com.")
    near(found, page.get_by_role("button", name="Look up"))
    expect(page.locator("#user-summary dd").first).to_have_text("Not attached")
    lines = page.evaluate("""() => [...document.querySelectorAll('#user-summary dd')].map(dd => {
        const range = document.createRange();
        range.selectNodeContents(dd);
        return [dd.textContent, new Set([...range.getClientRects()].map(line => Math.round(line.top))).size];
    })""")
    assert all(count <= len(text.split()) for text, count in lines), lines  # no word broken over lines
    shot(page, "admin-user-360")


def near(message, button) -> None:
    """A status shown where the person pressed: below the button, closer than a line or two."""
    said, pressed = message.bounding_box(), button.bounding_box()
    assert 0 <= said["y"] - (pressed["y"] + pressed["height"]) < 40, (said, pressed)
