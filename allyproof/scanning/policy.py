"""Which addresses the scanner may reach (server-side request forgery, DESIGN §14).

A scan loads client pages in a real browser on our servers, so a page (or a redirect, an image, a
script) could make that browser ask for an internal address: the cloud metadata service, a database,
an admin port on loopback. Every request the browser makes is checked *by resolved IP* before
anything connects: a public-looking name that resolves to a private address is refused like the
address itself. The resolver is injectable, so tests decide by resolution and never send traffic.

Production refuses private, loopback, link-local, metadata and other non-global addresses unless
ALLYPROOF_SCAN_ALLOW_PRIVATE=1; development also allows loopback, so the demo's local sites scan.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Resolver = Callable[[str], Awaitable[list[str]]]

# Addresses that answer as the cloud's instance metadata service; always named as such in refusals.
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                      ipaddress.ip_address("100.100.100.200")})
# Schemes a page may use without the network (inline data, in-page objects).
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})


class Refused(Exception):
    """The request would reach an address the policy forbids; the message says which and why."""


async def system_resolver(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not a public one, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private or address.is_reserved or address.is_multicast or address.is_unspecified:
        return "a private address"
    if not address.is_global:
        return "a non-public address"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    allow_private: bool = False  # ALLYPROOF_SCAN_ALLOW_PRIVATE=1: everything, e.g. an intranet scanner
    allow_loopback: bool = False  # development: the demo's sites on 127.0.0.1
    resolver: Resolver = system_resolver

    def refusal(self, address: str) -> str | None:
        ip = ipaddress.ip_address(address.strip("[]"))
        kind = _kind(ip)
        if kind is None or self.allow_private:
            return None
        if kind == "a loopback address" and self.allow_loopback:
            return None
        return kind

    async def check(self, url: str) -> None:
        """Raises Refused unless every address the URL's host resolves to is allowed."""
        if urlsplit(url).scheme not in LOCAL_SCHEMES:
            await self.allowed_addresses(url)

    async def allowed_addresses(self, url: str) -> list[str]:
        """The addresses the URL's host resolves to, all allowed (connect to these, never resolve again);
        raises Refused otherwise."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss"):
            raise Refused(f"{parts.scheme or 'this'} URLs are not scanned")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise Refused("the URL has no host")
        literal = True
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            literal = False
            try:
                addresses = await self.resolver(host)
            except (OSError, UnicodeError) as error:
                raise Refused(f"{host} does not resolve ({error.__class__.__name__})") from None
        if not addresses:
            raise Refused(f"{host} does not resolve")
        for address in addresses:  # all of them: the browser may pick any
            kind = self.refusal(address)
            if kind:
                raise Refused(f"{host} is {kind}" if literal else f"{host} resolves to {address}, {kind}")
        return addresses
