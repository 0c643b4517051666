"""QR codes for moments, drawn on the server as SVG.

Why SVG from the server: a card stuck on a machine must scan after it is
printed at any size, SVG stays sharp; making it server-side needs no script in
the page (the Content-Security-Policy allows none inline) and works for other
tools through a plain URL.  The `qrcode` package is pure Python.
"""

from __future__ import annotations

import io


def qr_svg(text: str) -> bytes:
    """An SVG QR code (white background, medium error correction: survives a smudged print)."""
    import qrcode
    import qrcode.image.svg

    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, image_factory=qrcode.image.svg.SvgPathFillImage
    )
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()
