"""What the served tests share: the Jira sandbox in its own process (as the demo runs it: its clock and its
GIL are its own), real HTTP to it from the test and the live server, and real Huey consumers in their own
processes on the test's PostgreSQL database (an in-memory SQLite one cannot be shared with a process)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
from django.db import connection as db

from allyproof.integrations.jira.connection import client as jira_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=90.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    raise AssertionError("timed out waiting")


def sandbox_up(url: str) -> bool:
    try:
        return httpx.get(url + "/_sandbox/clock", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def sandbox_served() -> Iterator[str]:
    """The sandbox serving on a free port; yields its URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "jira_sandbox", "serve", "--host", "127.0.0.1", "--port",
                                str(port), "--auto-approve", "--index-delay", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: sandbox_up(url), timeout=20)
        yield url
    finally:
        process.terminate()
        process.wait()


@contextlib.contextmanager
def real_http() -> Iterator[None]:
    """Our Jira client talks HTTP (the suite's default is the in-process sandbox's WSGI transport)."""
    jira_client.use_transport(httpx.HTTPTransport())
    try:
        yield
    finally:
        jira_client.use_transport(None)


class Consumers:
    """Real Huey consumers, one thread each and no scheduler, on the test's database and pointed at the served
    sandbox; `env` adds the settings the test's own process was given (windows, intervals, the public URL).
    A context manager: every consumer it started is killed on the way out."""

    def __init__(self, url: str, **env: str):
        self.env = {**os.environ, "ATLASSIAN_AUTH_URL": url, "ATLASSIAN_API_URL": url,
                    "ALLYPROOF_TEST_DATABASE_URL": "",
                    "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**db.settings_dict), **env}
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_huey", "--workers", "1", "--worker-type", "thread", "--no-periodic",
             "--delay", "0.1", "--max-delay", "0.5"], env=self.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def __enter__(self) -> Consumers:
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()
