"""The reference page in a real browser (tests/helpers_browser.py): the admin sees and sets the policy's SMS limits
(API.md, "SMS limits"), and a number outside the allowed countries is refused."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from tests.conftest import make_token
from tests.helpers_browser import heading, sent, switch

pytest_plugins = ["tests.helpers_browser"]  # the browser and page fixtures


def test_admin_sees_the_sms_defaults_and_sets_the_countries_and_the_days_limits(page, live):
    tenant = "web-admin-sms"
    switch(page, "admin@example.com", tenant, "admin")
    expect(heading(page, "Two-factor authentication")).to_be_visible()
    countries = page.get_by_label("Countries SMS may go to")
    per_number = page.get_by_label("SMS per number per day")
    per_tenant = page.get_by_label("SMS per day for the organization")
    expect(countries).to_have_value("")
    expect(per_number).to_have_value("10")
    expect(per_tenant).to_have_value("1000")

    save, error = page.get_by_role("button", name="Save policy"), page.locator("#policy-form-error")
    puts = sent(page, "/v1/policy")
    countries.fill("86")  # the page's own check: nothing is sent
    save.click()
    expect(error).to_have_text("Enter country calling codes like +86, separated by commas.")
    assert [r.method for r in puts] == []
    countries.fill("+8")  # well formed, but not a whole code: the API says so
    save.click()
    expect(error).to_contain_text("sms.countries must be a list of distinct country calling codes")

    countries.fill("+86，+852, +86")
    per_number.fill("101")
    save.click()
    expect(error).to_contain_text("enter a whole number from 1 to 100")
    per_number.fill("3")
    per_tenant.fill("200")
    save.click()
    expect(page.get_by_role("status")).to_have_text("Policy saved (version 1).")
    expect(countries).to_have_value("+86, +852")

    admin = make_token("admin@example.com", tenant, "mfa:admin")
    saved = requests.get(f"{live}/v1/policy", headers={"Authorization": f"Bearer {admin}"}, timeout=10).json()
    assert saved["sms"] == {"countries": ["+86", "+852"], "per_number_per_day": 3, "per_tenant_per_day": 200}
    user = make_token("bob@example.com", tenant)
    r = requests.post(f"{live}/v1/phone", json={"number": "+12025550123"}, headers={"Authorization": f"Bearer {user}"},
                      timeout=10)
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
