"""The checking forward proxy on its own, spoken to as Chromium speaks to it (raw HTTP over a socket).

Two loopback servers stand for "allowed" (127.0.0.1) and "forbidden" (127.0.0.2, loopback too, so no
traffic leaves the machine): the policy here allows only the first, and every test proves by the
forbidden server's own request log that nothing reached it.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from allyproof.scanning.policy import AddressPolicy
from allyproof.scanning.proxy import CheckingProxy

from .sites import ServedSite, html


@dataclass(frozen=True)
class FirstLoopbackOnly(AddressPolicy):
    """127.0.0.1 allowed, every other address as production decides (127.0.0.2 is refused as loopback)."""

    def refusal(self, address: str) -> str | None:
        return None if address == "127.0.0.1" else super().refusal(address)


class Flipping:
    """A resolver that answers an allowed address once, then a forbidden one (DNS rebinding)."""

    def __init__(self):
        self.calls = 0

    async def __call__(self, host: str) -> list[str]:
        self.calls += 1
        if host == "rebind.invalid":
            return ["127.0.0.1"] if self.calls == 1 else ["127.0.0.2"]
        if host == "inside.invalid":
            return ["127.0.0.2"]
        raise OSError("not in the test's fake DNS")


async def _exchange(proxy_url: str, request: bytes, then: bytes = b"") -> bytes:
    host, port = proxy_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n") if then else b""
    if then:
        writer.write(then)
        await writer.drain()
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return head + rest


def _through_proxy(resolver, *requests):
    """Starts a proxy with the test policy, sends each (request, then) and returns the answers and what
    the proxy noted."""
    refused, paced = [], []

    async def pace(authority):
        paced.append(authority)

    async def run():
        proxy = CheckingProxy(FirstLoopbackOnly(resolver=resolver), pace=pace,
                              on_refused=lambda url, reason: refused.append((url, reason)))
        url = await proxy.start()
        try:
            return [await _exchange(url, request, then) for request, then in requests], proxy.problems
        finally:
            await proxy.close()

    # In a thread of its own: a sync Playwright session of an earlier browser test keeps a loop running here.
    with ThreadPoolExecutor(max_workers=1) as pool:
        answers, problems = pool.submit(asyncio.run, run()).result()
    return answers, problems, refused, paced


@pytest.fixture
def allowed():
    with ServedSite({"/": html("<h1>Allowed</h1>"), "/?q=1": html("<h1>Allowed</h1>")}) as site:
        yield site


@pytest.fixture
def forbidden():
    with ServedSite({"/": html("<h1>Internal</h1>")}, host="127.0.0.2") as site:
        yield site


def get(url: str) -> tuple[bytes, bytes]:
    host = url.split("/")[2]
    return f"GET {url} HTTP/1.1\r\nHost: {host}\r\nProxy-Connection: keep-alive\r\n\r\n".encode(), b""


def test_plain_http_to_an_allowed_address_is_forwarded_once_and_closed(allowed):
    (answer,), problems, refused, paced = _through_proxy(Flipping(), get(allowed.url + "/?q=1"))
    assert answer.startswith(b"HTTP/1.0 200") and b"<h1>Allowed</h1>" in answer
    assert b"\r\nConnection: close\r\n" in answer  # so the browser never sends a second request on it
    assert allowed.requests == ["/?q=1"]  # the origin-form path, query kept
    assert (problems, refused) == ({}, [])
    assert paced == [f"127.0.0.1:{allowed.server.server_port}"]


def test_plain_http_to_a_forbidden_address_gets_no_answer_and_never_connects(forbidden):
    port = forbidden.server.server_port
    answers, problems, refused, _ = _through_proxy(
        Flipping(), get(f"http://127.0.0.2:{port}/"), get(f"http://inside.invalid:{port}/"))
    assert answers == [b"", b""]
    assert forbidden.requests == []
    assert problems == {f"127.0.0.2:{port}": "refused: 127.0.0.2 is a loopback address",
                        f"inside.invalid:{port}": "refused: inside.invalid resolves to 127.0.0.2, a loopback address"}
    assert [url for url, _ in refused] == [f"http://127.0.0.2:{port}/", f"http://inside.invalid:{port}/"]


def test_the_proxy_connects_to_the_address_it_checked_never_resolving_again(allowed, forbidden):
    """The name answers 127.0.0.1 to the check; a second lookup would answer the forbidden 127.0.0.2."""
    resolver = Flipping()
    port = allowed.server.server_port
    (answer,), problems, _, _ = _through_proxy(resolver, get(f"http://rebind.invalid:{port}/"))
    assert b"<h1>Allowed</h1>" in answer
    assert resolver.calls == 1 and allowed.requests == ["/"] and forbidden.requests == []
    assert problems == {}


def test_connect_tunnels_to_allowed_addresses_and_refuses_forbidden_ones(allowed, forbidden):
    allowed_port, forbidden_port = allowed.server.server_port, forbidden.server.server_port
    tunnel = f"CONNECT 127.0.0.1:{allowed_port} HTTP/1.1\r\nHost: 127.0.0.1:{allowed_port}\r\n\r\n".encode()
    inside = f"CONNECT inside.invalid:{forbidden_port} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    through = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    (opened, refused_answer), problems, refused, _ = _through_proxy(Flipping(), (tunnel, through), (inside, b""))
    assert opened.startswith(b"HTTP/1.1 200 Connection established\r\n\r\n") and b"<h1>Allowed</h1>" in opened
    assert refused_answer.startswith(b"HTTP/1.1 403")
    assert forbidden.requests == [] and allowed.requests == ["/"]
    assert problems == {f"inside.invalid:{forbidden_port}":
                        "refused: inside.invalid resolves to 127.0.0.2, a loopback address"}
    assert refused == [(f"https://inside.invalid:{forbidden_port}/",
                        "refused: inside.invalid resolves to 127.0.0.2, a loopback address")]


def test_an_unreachable_allowed_address_is_noted_in_words():
    (answer,), problems, refused, _ = _through_proxy(Flipping(), get("http://127.0.0.1:9/"))  # discard port
    assert answer == b"" and refused == []
    assert problems == {"127.0.0.1:9": "the server refused the connection (unreachable)"}
