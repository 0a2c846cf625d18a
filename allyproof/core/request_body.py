"""A request body as a bounded stream, for uploads read as they arrive.

Django reads `wsgi.input` only up to CONTENT_LENGTH, so a chunked upload (no Content-Length) would
read as empty. PEP 3333 lets an application read to the end only when the server says the input is
terminated (`wsgi.input_terminated`, set by gunicorn); without it we ask for a Content-Length.
"""

from __future__ import annotations

from typing import IO


class BodyRefused(Exception):
    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


def _too_large(size: str, limit: int) -> BodyRefused:
    return BodyRefused(413, f"the body is {size}; the limit is {limit} bytes")


class _Bounded:
    """Reads a terminated input, refusing it as soon as more than `limit` bytes have come."""

    def __init__(self, stream: IO[bytes], limit: int):
        self.stream, self.limit, self.read_so_far = stream, limit, 0

    def read(self, size: int = -1) -> bytes:
        # Never more than one byte past the limit: enough to know the body is too large.
        room = self.limit + 1 - self.read_so_far
        chunk = self.stream.read(room if size is None or size < 0 else min(size, room))
        self.read_so_far += len(chunk)
        if self.read_so_far > self.limit:
            raise _too_large("larger than that", self.limit)
        return chunk


def body_stream(request, *, limit: int):
    """The body to read, or BodyRefused (400 bad length, 411 no length, 413 too large)."""
    raw = request.META.get("CONTENT_LENGTH") or ""
    if raw.strip():
        try:
            length = int(raw)
        except ValueError:
            raise BodyRefused(400, f"Content-Length {raw[:40]!r} is not a number of bytes") from None
        if length < 0:
            raise BodyRefused(400, f"Content-Length {raw[:40]!r} is not a number of bytes")
        if length > limit:
            raise _too_large(f"{length} bytes", limit)
        return request
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        if not request.META.get("wsgi.input_terminated"):
            raise BodyRefused(411, "send a Content-Length header (this server cannot read chunked bodies)")
        return _Bounded(request.META["wsgi.input"], limit)
    return request  # no body: it reads as empty, and ingestion says the file is empty
