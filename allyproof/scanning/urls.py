"""URL normalisation, so that one page is scanned once.

Hand-written on purpose (a dozen lines over urllib): url-normalize does the generic parts but not
the per-site query handling the scanner needs ("drop", "keep", "sort", or drop only named
parameters), and the scanner's notion of "the same page" must match exactly what coverage compares.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
QUERY_MODES = ("keep", "sort", "drop")
# Tracking parameters that never change what a page shows; dropped in every mode.
TRACKING = frozenset({"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "fbclid"})


def normalise(url: str, *, query: str = "sort", base: str | None = None) -> str | None:
    """The canonical form of an http(s) URL, or None for anything else (mailto:, javascript:, ...).

    Lower-case scheme and host, no default port, no fragment, no empty path ("/"), a trailing slash
    dropped except on the root, percent-escapes made uniform, and the query per `query`.
    """
    if base is not None:
        url = urljoin(base, url.strip())
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = quote(unquote(parts.path), safe="/%:@!$&'()*+,;=-._~") or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return urlunsplit((scheme, netloc, path, _query(parts.query, query), ""))


def _query(raw: str, mode: str) -> str:
    if mode == "drop" or not raw:
        return ""
    pairs = [(k, v) for k, v in parse_qsl(raw, keep_blank_values=True) if k not in TRACKING]
    if mode == "sort":
        pairs.sort()
    return urlencode(pairs)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
