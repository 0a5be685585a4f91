"""The QR code people scan: a PNG made by qrcode's pure-Python writer (pypng), no Pillow."""

from __future__ import annotations

import base64
import io


def png_data_uri(text: str) -> str:
    # Imported here, not at module level: only enroll draws QR codes, and verify's cold start must not pay for it.
    import qrcode
    from qrcode.image.pure import PyPNGImage

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image(image_factory=PyPNGImage).save(out)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
