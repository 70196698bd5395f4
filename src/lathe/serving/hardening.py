"""What the server does against hostile traffic beyond keys and limits: response headers,
TLS, and the checks that keep a malformed request a 4xx.

Headers on every response (`security_headers`): no MIME sniffing, no framing, no referrer,
no caching of predictions, a Content-Security-Policy that allows only the server's own
scripts and styles (the interactive docs at /docs load Swagger UI from a CDN and are left
out, or turned off with `lathe serve --no-docs`), and Strict-Transport-Security under TLS.
CORS is off: no Access-Control-* header is ever sent, so browsers on other origins cannot
read answers. JSON nested too deeply for the parser is a 400 (`too_deep`), not a crash.

>>> dict(security_headers(tls=False))[b"x-frame-options"]
b'DENY'
>>> b"strict-transport-security" in dict(security_headers(tls=True))
True
>>> check_tls(None, None) is None
True
"""

from __future__ import annotations

import ssl
from pathlib import Path

from lathe.errors import UsageError

__all__ = ["security_headers", "CSP", "DOCS_PATHS", "check_tls", "too_deep"]

CSP = (b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
       b"frame-ancestors 'none'; form-action 'self'")
DOCS_PATHS = ("/docs", "/redoc")


def security_headers(*, tls: bool) -> list[tuple[bytes, bytes]]:
    """The headers every response carries (CSP is added per path, see the module doc)."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
        (b"cross-origin-resource-policy", b"same-origin"),
    ]
    if tls:
        headers.append((b"strict-transport-security", b"max-age=31536000"))
    return headers


def too_deep(where: str) -> UsageError:
    """The 400 for JSON nested so deep that the parser gives up (it would otherwise be a
    RecursionError, a 500): rows are flat objects.

    >>> str(too_deep("the request body"))
    'the request body nests JSON too deeply. Fix: send rows as flat JSON objects'
    """
    return UsageError(f"{where} nests JSON too deeply", hint="send rows as flat JSON objects")


def check_tls(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """None without TLS; else a server context from `cert` and `key`, or one UsageError
    naming the file that is missing or does not load."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UsageError("TLS needs both --tls-cert and --tls-key",
                         hint="pass the certificate (PEM) and its private key (PEM)")
    for path, what in ((cert, "--tls-cert"), (key, "--tls-key")):
        if not Path(path).is_file():
            raise UsageError(f"{what} {path}: no such file", hint="check the path")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise UsageError(f"TLS certificate {cert} and key {key} do not load together ({exc})",
                         hint="pass a PEM certificate and the unencrypted PEM private key it "
                         "was issued for") from None
    return context
