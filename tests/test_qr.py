"""The QR code is a real PNG that a real decoder (zxing-cpp) reads back as exactly the otpauth URI."""

import base64
import io

import zxingcpp
from PIL import Image

from mfa_core import totp
from mfa_core.qr import png_data_uri
from tests.conftest import run_python


def decode(data_uri: str) -> str:
    prefix = "data:image/png;base64,"
    assert data_uri.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(data_uri[len(prefix) :])))
    assert image.format == "PNG"
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1 and results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0].text


def test_qr_png_decodes_to_exactly_the_otpauth_uri():
    for account, issuer in [("alice@example.com", "Example Mail"), ("张伟@例子.中国", "阿里邮箱: Mail")]:
        uri = totp.otpauth_uri(totp.new_secret(), account=account, issuer=issuer, algorithm="SHA1", digits=6, period=30)
        assert decode(png_data_uri(uri)) == uri


def test_enroll_response_qr_is_the_enrollment_uri(api):
    r = api.as_user("POST", "/v1/authenticator/enroll", {})
    assert r.status_code == 200
    assert decode(r.json["qr_png"]) == r.json["otpauth_uri"]


def test_qr_png_is_made_without_pillow():
    out = run_python(
        "import sys; sys.modules['PIL'] = None\n"  # any import of Pillow would now fail
        "from mfa_core.qr import png_data_uri\n"
        "print(png_data_uri('otpauth://totp/x:y?secret=AAAA')[:22])"
    ).stdout.strip()
    assert out == "data:image/png;base64,"


def test_verify_path_does_not_import_qrcode():
    out = run_python(
        "import sys, app\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('qrcode', 'png', 'PIL')))",
        env={"MFA_DEV_MODE": "1", "MFA_TABLE": "t", "MFA_KMS_KEY_ID": "k"},
    ).stdout.strip()
    assert out == "[]"
