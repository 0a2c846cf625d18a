"""Small websites served on an ephemeral loopback port for the scanner's tests.

A site is a dict of path -> (status, headers, body) or a callable returning that; every request is
recorded, so a test can prove a refused address was never asked for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Response = tuple[int, dict[str, str], bytes]
Route = Response | Callable[[], Response]

HTML = {"Content-Type": "text/html; charset=utf-8"}


def html(body: str, title: str = "Test page", lang: str = "en") -> Response:
    doc = f'<!doctype html><html lang="{lang}"><head><title>{title}</title></head><body><main>{body}</main></body></html>'
    return 200, HTML, doc.encode()


def redirect(location: str, status: int = 302) -> Response:
    return status, {"Location": location}, b""


def slow(seconds: float, response: Response) -> Callable[[], Response]:
    def answer() -> Response:
        time.sleep(seconds)
        return response

    return answer


class ServedSite:
    def __init__(self, routes: dict[str, Route], host: str = "127.0.0.1"):
        self.routes = dict(routes)
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                site.requests.append(self.path)
                route = site.routes.get(self.path) or site.route_for(self.path)
                if route is None:
                    status, headers, body = 404, HTML, b"<!doctype html><title>Not found</title>"
                else:
                    status, headers, body = route() if callable(route) else route
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def route_for(self, path: str) -> Route | None:
        return None

    @property
    def url(self) -> str:
        return f"http://{self.server.server_address[0]}:{self.server.server_port}"

    def __enter__(self) -> ServedSite:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class CalendarSite(ServedSite):
    """Adds /calendar?month=N pages without end (an endless calendar)."""

    def __init__(self, routes, calendar):
        super().__init__(routes)
        self.calendar = calendar

    def route_for(self, path: str):
        if path.startswith("/calendar?month="):
            return self.calendar(int(path.split("=", 1)[1] or 0))
        return None
