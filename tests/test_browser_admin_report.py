"""The reference page in a real browser (tests/helpers_browser.py), the tenant at a glance: the admin reads the
report of a history made through the API (users, attachments, verifies, wrong codes, a lock) as a chart and
numbers, lists the locked users, unlocks one from its row, issues a temporary access pass, and the user logs on
with it and attaches a new authenticator."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import make_token
from tests.helpers_browser import (
    DESKTOP,
    PHONE,
    App,
    attach_by_api,
    heading,
    log_on,
    new_page,
    read_qr,
    set_policy,
    shot,
    switch,
)

pytest_plugins = ["tests.helpers_browser"]  # the browser and page fixtures


def verify(base: str, user: str, tenant: str, code: str, **body) -> requests.Response:
    token = make_token(user, tenant, "mfa:logon")
    return requests.post(f"{base}/v1/logon/verify", json={"code": code, **body},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def both_languages_and_sizes(page, name: str) -> None:
    for language in ("en", "zh-CN"):
        for size, viewport in (("", DESKTOP), ("-360", PHONE)):
            page.set_viewport_size(viewport)
            page.locator("#lang").select_option(language)  # draws the screen again, for this width
            shot(page, f"{name}{size}{'' if language == 'en' else '-zh-CN'}")
    page.set_viewport_size(DESKTOP)
    page.locator("#lang").select_option("en")


def test_the_admin_reads_the_report_unlocks_from_the_list_and_issues_an_access_pass(page, browser, live):
    tenant = "web-report"
    set_policy(live, tenant, two_factor="on", totp={"issuer": "Example Mail", "window": 2})
    alice = attach_by_api(live, "alice@example.com", tenant)
    erin = attach_by_api(live, "erin@example.com", tenant)
    dave = attach_by_api(live, "dave@example.com", tenant)
    for user, app in (("alice@example.com", alice), ("alice@example.com", alice), ("erin@example.com", erin)):
        assert verify(live, user, tenant, app.code()).status_code == 200
    assert verify(live, "alice@example.com", tenant, alice.wrong_code()).status_code == 400
    for _ in range(5):
        verify(live, "dave@example.com", tenant, dave.wrong_code())
    admin = make_token("admin@example.com", tenant, "mfa:admin")
    headers = {"Authorization": f"Bearer {admin}"}
    report = requests.get(f"{live}/v1/admin/report?days=30", headers=headers, timeout=10).json()
    today = report["days"][-1]
    assert len(report["days"]) == 30
    assert (today["verified"], today["failed"], today["locked"]) == (3, 6, 1), today
    assert report["enrolled"]["authenticator"] == 3 and report["locked_now"] == 1, report

    switch(page, "admin@example.com", tenant, "admin")
    overview = page.locator("#overview")
    expect(overview).to_be_visible()
    share = round(100 * report["enrolled"]["any"] / report["users"])
    expect(page.locator("#overview-share")).to_have_text(f"{share}%")
    expect(page.locator("#overview-locked")).to_have_text("1")
    expect(page.locator("#overview-app-passwords")).to_have_text(str(report["app_passwords"]))
    expect(page.locator("#total-verified")).to_have_text("3")
    expect(page.locator("#total-failed")).to_have_text("6")
    expect(page.locator("#total-locked")).to_have_text("1")
    chart = page.locator("#days-chart")
    expect(chart.locator("g[data-date]")).to_have_count(30)
    bars = chart.locator(f'g[data-date="{today["date"]}"] rect')
    expect(bars).to_have_count(3)  # verified, failed, locked stacked
    heights = {s: float(chart.locator(f'g[data-date="{today["date"]}"] rect[data-series={s}]').get_attribute("height"))
               for s in ("verified", "failed", "locked")}
    # Each height is the difference of two scaled y values: equal up to floating point.
    assert heights["failed"] == pytest.approx(2 * heights["verified"]), heights
    assert heights["failed"] == pytest.approx(6 * heights["locked"]), heights
    page.get_by_text("Show the numbers").click()
    last = page.locator("#days-table tbody tr").last
    expect(last.locator("td")).to_have_text(["3", "6", "1"])
    # The three users are listed, in user order.
    expect(page.locator("#users tbody tr")).to_have_count(3)
    expect(page.locator("#users tbody tr td:first-child")).to_have_text(
        ["alice@example.com", "dave@example.com", "erin@example.com"]
    )
    both_languages_and_sizes(page, "admin-overview")

    page.get_by_role("button", name="Locked", exact=True).click()
    expect(page.locator("#filter-locked")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#users tbody tr")).to_have_count(1)
    expect(page.locator("#users tbody tr")).to_contain_text("dave@example.com")
    expect(page.locator("#users tbody tr")).to_contain_text("Locked until")
    both_languages_and_sizes(page, "admin-users-locked")
    page.get_by_role("button", name="Unlock dave@example.com").click()
    said = page.locator("#users-card").get_by_role("status")
    expect(said).to_have_text("dave@example.com was unlocked.")
    expect(page.get_by_text("No user is locked out.")).to_be_visible()
    expect(page.locator("#overview-locked")).to_have_text("0")

    page.get_by_role("button", name="All", exact=True).click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    csv_lines = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert csv_lines[0].startswith("user,") and len(csv_lines) == 4, csv_lines
    assert download.value.suggested_filename == "users.csv"

    page.get_by_role("button", name="Issue temporary access pass to alice@example.com").click()
    expect(page.get_by_label("Valid for (hours)")).to_be_focused()
    expect(page.get_by_label("Valid for (hours)")).to_have_value("8")
    page.get_by_label("Valid for (hours)").fill("4")
    page.get_by_role("button", name="Issue pass").click()
    value = page.locator("#pass-value")
    expect(value).to_have_text(re.compile(r"^[0-9a-z]{4}(-[0-9a-z]{4}){3}$"))
    access_pass = value.inner_text()
    expect(page.locator("#pass-issued")).to_contain_text("It is shown only now")
    expect(page.locator("#pass-issued")).to_contain_text("within 15 minutes")
    both_languages_and_sizes(page, "admin-access-pass")
    # Read aloud or typed from the screen: on a 360 px phone the pass stays on one line.
    page.set_viewport_size(PHONE)
    lines = value.evaluate("e => e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)")
    assert lines < 2, f"the pass takes {lines:.1f} lines at 360 px"
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Done").click()
    expect(page.locator("#pass-value")).to_have_count(0)  # shown once

    # Alice lost her phone: she logs on with the pass and attaches the authenticator of her new phone.
    user_page = new_page(browser)
    user_page.goto(live + "/")
    switch(user_page, "alice@example.com", tenant, "logon")
    log_on(user_page)
    user_page.get_by_role("button", name="Use a temporary access pass").click()
    user_page.get_by_label("Temporary access pass").fill("aaaa-bbbb-cccc-dddd")
    user_page.get_by_role("button", name="Verify").click()
    expect(user_page.locator("#logon-form-error")).to_contain_text("The verification code is incorrect or has expired.")
    expect(user_page.locator("#logon-form-error")).to_contain_text("attempts left")
    shot(user_page, "logon-access-pass")
    user_page.get_by_label("Temporary access pass").fill(access_pass)
    user_page.get_by_role("button", name="Verify").click()
    expect(heading(user_page, "Attach a new authenticator")).to_be_visible()
    both_languages_and_sizes(user_page, "logon-access-pass-attach")
    user_page.get_by_role("button", name="Attach a new authenticator").click()
    expect(heading(user_page, "Attach Authenticator")).to_be_visible()
    new_app = App(read_qr(user_page))
    user_page.get_by_label("Verification code").fill(new_app.code())
    user_page.get_by_role("button", name="Attach Now").click()
    expect(heading(user_page, "Attachment successful")).to_be_visible()
    user_page.get_by_role("button", name="Continue").click()
    user_page.get_by_role("button", name="Leave without saving").click()
    expect(heading(user_page, "Logon verification complete")).to_be_visible()
    assert user_page.problems == []
    user_page.context.close()

    # The old phone's codes no longer work; the new one's do.
    assert verify(live, "alice@example.com", tenant, alice.code()).status_code == 400
    assert verify(live, "alice@example.com", tenant, new_app.code()).status_code == 200

    # Deleting the pass, and again: the second time there is none, and the page says so.
    page.get_by_role("button", name="Delete access pass").click()
    status = page.locator("#user-summary").get_by_role("status")
    deleted_or_none = "^(The access pass of alice@example.com was deleted.|alice@example.com has no access pass.)$"
    expect(status).to_have_text(re.compile(deleted_or_none))
    page.get_by_role("button", name="Delete access pass").click()
    expect(status).to_have_text("alice@example.com has no access pass.")


def test_the_admin_pages_through_more_users_than_a_page_holds_and_exports_them_all(page, live):
    """52 users (a page holds 50), one with an authenticator: Next and Previous page, the filter's own pages,
    and the CSV of every user."""
    tenant = "web-paging"
    set_policy(live, tenant, two_factor="on")
    users = [f"user{n:02d}@example.com" for n in range(52)]
    for user in users:  # a QR code shown is enough to list a user (without a verification method)
        token = make_token(user, tenant, "mfa:settings")
        r = requests.post(f"{live}/v1/authenticator/enroll", json={},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200, r.text
    attach_by_api(live, users[0], tenant)

    switch(page, "admin@example.com", tenant, "admin")
    rows = page.locator("#users tbody tr td:first-child")
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_text(users[0])
    expect(page.get_by_role("button", name="Previous page")).to_have_count(0)
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_text(users[50:])
    expect(page.get_by_role("button", name="Next page")).to_have_count(0)
    page.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(50)
    expect(rows.last).to_have_text(users[49])

    # Without a verification method: everyone but the first, still 50 to a page.
    page.get_by_role("button", name="No verification method", exact=True).click()
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_text(users[1])
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_text(users[51:])

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    csv_lines = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert [line.split(",")[0] for line in csv_lines[1:]] == users[1:], csv_lines[:3]
