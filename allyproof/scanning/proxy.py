"""The forward proxy every request of the scan's browser goes through: the address check at the socket.

Chromium is started with `--proxy-server` pointing here (and `<-loopback>` so loopback is proxied too),
so the browser never resolves or connects to anything itself. For each request (plain HTTP) or tunnel
(CONNECT: HTTPS, WebSockets) this resolves the host once through the policy, refuses when any address
is forbidden, and connects to the very address it checked: no second lookup, so no DNS-rebinding gap
between check and connect. Redirects, images, frames, scripts and fetches are each a new request here.

Why here and not in a Playwright route handler: routing pauses every request in Chromium, ships it to
the driver and to Python and back, and turns the browser cache off; at concurrency 2 and 4 that round
trip was most of the gap to a bare Playwright loop (docs/benchmarks.md). Here Python only reads a
request head and then copies bytes.

Hand-written on purpose, small: the registry's asyncio proxies (pproxy, proxy.py, mitmproxy) decide by
host name or run their own threads/processes or interpret every flow; none offers "connect only to the
address the policy just approved" inside the scan's own event loop, which is the whole point.

One request per client connection for plain HTTP (the response is told `Connection: close`), so a
connection never carries a second request to a host that was checked for the first one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from . import failures
from .policy import AddressPolicy, Refused

HEAD_LIMIT = 64 * 1024
CHUNK = 64 * 1024
HOP_HEADERS = (b"proxy-connection", b"connection", b"keep-alive", b"proxy-authorization")


def _without_hop_headers(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line.split(b":", 1)[0].strip().lower() not in HOP_HEADERS]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class CheckingProxy:
    """Runs in the scan's event loop; `problems` says, per host:port, why the last attempt failed."""

    def __init__(self, policy: AddressPolicy, *, pace: Callable[[str], Awaitable[None]],
                 on_refused: Callable[[str, str], None], connect_timeout_s: float = 30.0):
        self.policy, self.pace, self.on_refused = policy, pace, on_refused
        self.connect_timeout_s = connect_timeout_s
        self.problems: dict[str, str] = {}  # "host:port" -> reason (refused: ..., or a network failure)
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0, limit=HEAD_LIMIT)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head[:-4].split(b"\r\n")
        try:
            method, target, version = lines[0].decode("latin-1").split(" ", 2)
        except ValueError:
            writer.close()
            return
        if method == "CONNECT":
            await self._tunnel(target, reader, writer)
        else:
            await self._forward(method, target, version, lines[1:], reader, writer)

    async def _open(self, host: str, port: int, url: str) -> tuple | None:
        """Checks, paces and connects to the checked address; None (and the reason noted) when not."""
        authority = f"{host}:{port}"
        try:
            addresses = await self.policy.allowed_addresses(url)
        except Refused as refused:
            reason = f"refused: {refused}"
            self.problems[authority] = reason
            self.on_refused(url, reason)
            return None
        await self.pace(authority)
        last_error: Exception | None = None
        for address in addresses:
            try:
                opened = await asyncio.wait_for(asyncio.open_connection(address, port), self.connect_timeout_s)
            except (OSError, asyncio.TimeoutError) as error:
                last_error = error
                continue
            self.problems.pop(authority, None)
            return opened
        self.problems[authority] = _network_reason(last_error)
        return None

    async def _tunnel(self, target: str, reader, writer) -> None:
        host, _, port_text = target.rpartition(":")
        host = host.strip("[]")
        try:
            port = int(port_text)
        except ValueError:
            writer.close()
            return
        scheme = "https" if port != 80 else "http"
        opened = await self._open(host, port, f"{scheme}://{_bracket(host)}:{port}/")
        if opened is None:
            # Chromium reads any non-200 answer to CONNECT as "the tunnel failed": the request fails.
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await _close(writer)
            return
        upstream_reader, upstream_writer = opened
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    async def _forward(self, method, target, version, headers, reader, writer) -> None:
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            writer.close()  # a proxy only ever sees absolute http:// URLs here; anything else is refused
            return
        port = parts.port or 80
        opened = await self._open(parts.hostname, port, target)
        if opened is None:
            # No answer at all: the request fails in the browser as an aborted one would (no document
            # from us lands in a frame and gets tested).
            await _close(writer)
            return
        upstream_reader, upstream_writer = opened
        path = parts.path or "/"
        request_line = f"{method} {path}{'?' + parts.query if parts.query else ''} {version}".encode("latin-1")
        upstream_writer.write(b"\r\n".join([request_line, *_without_hop_headers(headers), b"Connection: close"])
                              + b"\r\n\r\n")
        sending = asyncio.ensure_future(_pipe(reader, upstream_writer))
        try:
            await self._relay_response(upstream_reader, writer)
        finally:
            sending.cancel()
            with contextlib.suppress(Exception):
                upstream_writer.close()

    async def _relay_response(self, upstream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await upstream.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            await _close(writer)
            return
        lines = head[:-4].split(b"\r\n")
        writer.write(b"\r\n".join([lines[0], *_without_hop_headers(lines[1:]), b"Connection: close"]) + b"\r\n\r\n")
        await _pipe(upstream, writer)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _network_reason(error: Exception | None) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "the server did not answer (timed out)"
    if isinstance(error, ConnectionRefusedError):
        return "the server refused the connection (unreachable)"
    return failures.reason_for(str(error or "unreachable"))


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        await writer.drain()
        writer.close()
