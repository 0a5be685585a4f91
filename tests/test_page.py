"""The web page's files: served from web/ with their types, nothing outside it, and shipped in the Lambda zip."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

from chalice.local import LambdaContext

from mfa_core import runtime
from tests.conftest import ROOT, run_python

WEB = ROOT / "web"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


def get(api, path, headers=None):
    return api.client.http.get(path, headers=headers or {})


def test_the_page_is_html_with_a_content_security_policy(api):
    r = get(api, "/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-cache" and r.headers["ETag"]
    policy = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors 'self'" in policy
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.body.decode() == (WEB / "index.html").read_text()
    # Relative links: behind API Gateway the page lives under /<stage>/.
    assert 'src="assets/app.js"' in r.body.decode() and 'src="/' not in r.body.decode()


def test_every_file_of_web_is_served_with_its_type(api):
    names = sorted(p.name for p in WEB.iterdir() if p.is_file())
    scripts = {"i18n-en.js", "i18n-zh-CN.js", "lang.js", "dom.js", "api.js", "labels.js", "screens-account.js",
               "screens-phone.js", "screens-devices.js", "screens-logon.js", "screens-admin.js", "devbar.js", "app.js"}
    assert {"index.html", "styles.css"} | scripts <= set(names)
    for name in names:
        r = get(api, f"/assets/{name}")
        assert r.status_code == 200, name
        assert r.headers["Content-Type"] == TYPES[os.path.splitext(name)[1]]
        assert r.body.decode() == (WEB / name).read_text()


OUTSIDE_WEB = [
    "nope.js", "app.py", "..%2Fapp.py", "..%2F..%2Fapp.py", "%2E%2E%2Fapp.py", "..%5Capp.py", "..", "%2E%2E",
    ".%2Fapp.js", "app.js%00.css", "%2Fetc%2Fpasswd", "functions%2Fpage.py",
]


def test_a_name_not_in_web_is_the_contracts_404(api):
    for name in OUTSIDE_WEB:
        r = get(api, f"/assets/{name}")
        assert r.status_code == 404, name
        assert r.headers["Content-Type"] == "application/json"
        assert json.loads(r.body) == {"error": "not_found", "message": "Not found."}
    for path in ("/assets/../app.py", "/assets/x/../../app.py", "/web/index.html", "/assets"):
        r = get(api, path)
        assert r.status_code == 404, path
        assert json.loads(r.body)["error"] == "not_found"


def test_an_unchanged_file_is_a_304(api):
    first = get(api, "/assets/app.js")
    again = get(api, "/assets/app.js", {"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.body in (b"", "")
    assert get(api, "/assets/app.js", {"If-None-Match": '"stale"'}).status_code == 200


def test_only_the_tenants_own_pages_may_frame_it(api, monkeypatch):
    monkeypatch.setenv("MFA_CORS_ORIGINS", "https://mail.example.com,https://webmail.example.com")
    runtime.reset()
    policy = get(api, "/").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://mail.example.com https://webmail.example.com" in policy


def test_the_stage_root_without_a_slash_redirects_to_it(chalice_app, aws):
    # API Gateway serves the root of stage "api" at /api too; the page's relative links need /api/.
    event = {
        "resource": "/", "path": "/", "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
        "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
        "stageVariables": None, "body": None, "isBase64Encoded": False,
        "requestContext": {"resourcePath": "/", "httpMethod": "GET", "path": "/api", "stage": "api",
                           "identity": {"sourceIp": "192.0.2.1"}},
    }
    response = chalice_app(event, LambdaContext("mfa", 512))
    assert response["statusCode"] == 308
    assert response["headers"]["Location"] == "/api/"
    event["requestContext"]["path"] = "/api/"
    assert chalice_app(event, LambdaContext("mfa", 512))["statusCode"] == 200


def test_the_page_is_served_outside_dev_mode_too():
    code = "import app; print(sorted(p for p in app.app.routes if p == '/' or p.startswith('/assets')))"
    env = {"MFA_TABLE": "mfa", "MFA_KMS_KEY_ID": "alias/mfa", "MFA_JWT_SECRET": "s" * 40,
           "MFA_SIGNING_KEY_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:mfa-signing-key"}
    assert run_python(code, env=env).stdout.strip() == "['/', '/assets/{name}']"


def test_chalice_package_ships_the_page(tmp_path):
    """vendor/web -> ../web puts web/ at the zip's root, next to app.py, where functions/page.py looks.

    A copy of the project with no requirements: what matters here is vendor/, not the wheels (the
    start-up tests package the real project)."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(ROOT / "app.py", project / "app.py")
    ignore = shutil.ignore_patterns("__pycache__", "deployments", "deployed")
    shutil.copytree(ROOT / ".chalice", project / ".chalice", ignore=ignore)
    shutil.copytree(ROOT / "vendor", project / "vendor", symlinks=True)  # the links stay links...
    for link in (ROOT / "vendor").iterdir():  # ...to copies of what they point at
        target = (link.parent / os.readlink(link)).resolve()
        copy = project / target.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            shutil.copytree(target, copy, ignore=ignore)
        else:
            shutil.copy2(target, copy)
    (project / "requirements.txt").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFA_") and k != "AWS_ENDPOINT_URL"}
    env |= {"MFA_JWT_SECRET": "packaging-only-" + "x" * 32, "AWS_DEFAULT_REGION": "us-east-1",
            "MFA_SIGNING_KEY_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:mfa-signing-key"}
    chalice = os.path.join(os.path.dirname(sys.executable), "chalice")
    result = subprocess.run([chalice, "package", "--stage", "dev", str(tmp_path / "out")], cwd=project, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(tmp_path / "out" / "deployment.zip") as zf:
        names = set(zf.namelist())
        assert zf.read("web/index.html").decode() == (WEB / "index.html").read_text()
    assert {f"web/{p.name}" for p in WEB.iterdir() if p.is_file()} <= names
    assert "functions/page.py" in names and "app.py" in names
