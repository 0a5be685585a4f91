"""The reference page in a real browser (tests/helpers_browser.py) as deployed: framed by the mail product,
which gives it the token in the fragment and receives the logon result by postMessage."""

from __future__ import annotations

import os

from playwright.sync_api import expect

from mfa_core import runtime
from tests.conftest import make_token, mfa_claims
from tests.helpers_browser import new_page

pytest_plugins = ["tests.helpers_browser"]  # the browser fixture


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
        claims = mfa_claims(result["mfa_token"])
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
