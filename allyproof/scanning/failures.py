"""A per-page failure in words a person understands, from Chromium's network error codes."""

from __future__ import annotations

REASONS = (
    ("ERR_NAME_NOT_RESOLVED", "the host name does not resolve (DNS)"),
    ("ERR_NAME_RESOLUTION_FAILED", "the host name does not resolve (DNS)"),
    ("ERR_CONNECTION_REFUSED", "the server refused the connection (unreachable)"),
    ("ECONNREFUSED", "the server refused the connection (unreachable)"),
    ("ENOTFOUND", "the host name does not resolve (DNS)"),
    ("ERR_ADDRESS_UNREACHABLE", "the server is unreachable"),
    ("ERR_CONNECTION_TIMED_OUT", "the server did not answer (timed out)"),
    ("ERR_CONNECTION_RESET", "the server dropped the connection"),
    ("ECONNRESET", "the server dropped the connection"),
    ("ERR_CERT", "the TLS certificate is not valid"),
    ("ERR_SSL", "the TLS connection failed"),
    ("certificate", "the TLS certificate is not valid"),
    ("ERR_TOO_MANY_REDIRECTS", "too many redirects (a redirect loop)"),
    ("Download is starting", "skipped: not HTML (a download)"),
    ("ERR_ABORTED", "the page load was aborted"),
    ("ERR_EMPTY_RESPONSE", "the server sent an empty response"),
)


def first_line(message: str) -> str:
    return message.strip().splitlines()[0][:200] if message.strip() else "unknown error"


def reason_for(message: str, timeout_s: float | None = None) -> str:
    if "Timeout" in message and "exceeded" in message:
        return f"did not finish loading within {timeout_s:g} s" if timeout_s else "timed out"
    for code, reason in REASONS:
        if code in message:
            return reason
    return f"could not load the page ({first_line(message)})"
