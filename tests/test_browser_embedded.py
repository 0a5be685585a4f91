"""The reference page in a real browser (tests/helpers_browser.py) as deployed: framed or opened by the mail product,
which gives it the token in the fragment and receives the logon result by postMessage, at an origin the deployment
allows (MFA_CORS_ORIGINS) and no other."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from mfa_core import runtime
from tests.conftest import make_token, mfa_claims
from tests.helpers_browser import Site, new_page

pytest_plugins = ["tests.helpers_browser"]  # the browser fixture

# What a page of another site keeps of the messages the MFA page posts to it.
LISTENER = ('<script>addEventListener("message", e => {{ if (e.origin === "{live}") window.mfaResult = e.data; }});'
            "</script>")


@pytest.fixture(scope="module")
def mail():
    """The tenant's mail product, the one origin in MFA_CORS_ORIGINS."""
    site = Site()
    saved = os.environ.get("MFA_CORS_ORIGINS")
    os.environ["MFA_CORS_ORIGINS"] = site.origin
    runtime.reset()
    yield site
    site.close()
    if saved is None:
        os.environ.pop("MFA_CORS_ORIGINS", None)
    else:
        os.environ["MFA_CORS_ORIGINS"] = saved
    runtime.reset()


@pytest.fixture(scope="module")
def elsewhere():
    """Another site, not in MFA_CORS_ORIGINS."""
    site = Site()
    yield site
    site.close()


def test_framed_by_the_mail_product_the_page_takes_the_fragments_token_and_posts_the_logon_result(browser, live, mail):
    """Deployed use: the mail product frames the page with `#token=...&origin=...`; no dev bar; the logon result
    comes back by postMessage to that origin."""
    tenant, user = "web-embed", "frank@example.com"
    token = make_token(user, tenant, "mfa:logon")
    mail.html = LISTENER.format(live=live) + (
        f'<iframe title="MFA" width="900" height="700" src="{live}/#token={token}&origin={mail.origin}&lang=zh-CN">'
        "</iframe>")
    page = new_page(browser)
    try:
        page.goto(mail.origin + "/")
        frame = page.frame_locator("iframe")
        expect(frame.get_by_role("heading", name="登录验证完成")).to_be_visible()  # two-factor is off: done
        expect(frame.locator("#devbar")).to_be_hidden()
        result = page.wait_for_function("window.mfaResult").json_value()
        assert result["type"] == "mfa:logon-complete"
        claims = mfa_claims(result["mfa_token"])
        assert claims["sub"] == user and claims["tenant"] == tenant and claims["amr"] == ["none"]
        assert "token=" not in page.frames[1].url  # out of the address bar (and history) at once
        assert page.problems == []
    finally:
        page.context.close()


def test_a_site_not_allowed_that_opens_the_page_naming_itself_gets_nothing_and_the_page_says_so(
    browser, live, mail, elsewhere
):
    """A site outside MFA_CORS_ORIGINS cannot frame the page (frame-ancestors), but it can open it in a window
    and name itself in the fragment: the page refuses before any logon step, and no message reaches that site."""
    token = make_token("grace@example.com", "web-embed", "mfa:logon")
    elsewhere.html = LISTENER.format(live=live) + (
        f"<button onclick=\"window.open('{live}/#token={token}&origin={elsewhere.origin}')\">Verify</button>")
    page = new_page(browser)
    try:
        page.goto(elsewhere.origin + "/")
        with page.expect_popup() as opened:
            page.get_by_role("button", name="Verify").click()
        popup = opened.value
        expect(popup.get_by_role("heading", name="This page was opened for an unknown site")).to_be_focused()
        expect(popup.get_by_role("alert")).to_have_text(
            f"It was asked to send its result to {elsewhere.origin}, which is not one of this service's mail sites. "
            "Nothing was sent.")
        expect(popup.get_by_role("heading", name="Logon verification complete")).to_have_count(0)
        assert "token=" not in popup.url
        page.wait_for_timeout(500)  # a postMessage would have arrived by now
        assert page.evaluate("window.mfaResult") is None
    finally:
        page.context.close()


def test_an_allowed_site_that_opens_the_page_in_a_window_gets_the_logon_result(browser, live, mail):
    """The same opening from the mail product's own origin is handed the result."""
    token = make_token("heidi@example.com", "web-embed", "mfa:logon")
    mail.html = LISTENER.format(live=live) + (
        f"<button onclick=\"window.open('{live}/#token={token}&origin={mail.origin}')\">Verify</button>")
    page = new_page(browser)
    try:
        page.goto(mail.origin + "/")
        with page.expect_popup() as opened:
            page.get_by_role("button", name="Verify").click()
        expect(opened.value.get_by_role("heading", name="Logon verification complete")).to_be_visible()
        result = page.wait_for_function("window.mfaResult").json_value()
        assert mfa_claims(result["mfa_token"])["sub"] == "heidi@example.com"
    finally:
        page.context.close()
