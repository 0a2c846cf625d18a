"""Minimal WSGI request/response plumbing and a table-driven router (no framework dependency)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from collections.abc import Callable
from urllib.parse import parse_qs


class Request:
    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        self.path = environ.get("PATH_INFO", "") or "/"
        self.query_string = environ.get("QUERY_STRING", "")
        self.query = parse_qs(self.query_string, keep_blank_values=True)
        self.headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            self.headers["content-type"] = environ["CONTENT_TYPE"]
        self.body = _read_body(environ)
        self.params: dict[str, str] = {}
        self._json: Any = _UNSET

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """Parsed JSON body, or None when there is none; raises ValueError on malformed JSON."""
        if self._json is _UNSET:
            self._json = json.loads(self.body) if self.body.strip() else None
        return self._json

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    @property
    def base_url(self) -> str:
        env = self.environ
        host = env.get("HTTP_HOST") or f"{env.get('SERVER_NAME', 'localhost')}:{env.get('SERVER_PORT', '80')}"
        return f"{env.get('wsgi.url_scheme', 'http')}://{host}"


_UNSET = object()


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    return stream.read(length) if stream is not None and length > 0 else b""


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    data: Any = None  # the JSON value before serialisation, for logs and conformance checks

    @property
    def status_line(self) -> str:
        try:
            return f"{self.status} {HTTPStatus(self.status).phrase}"
        except ValueError:
            return f"{self.status} Unknown"


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":")).encode()
    hdrs = {"Content-Type": "application/json;charset=UTF-8", **(headers or {})}
    return Response(status, body, hdrs, data)


def empty_response(status: int = 204) -> Response:
    return Response(status, b"", {})


def html_response(html: str, status: int = 200) -> Response:
    return Response(status, html.encode(), {"Content-Type": "text/html; charset=utf-8"})


def redirect(location: str, status: int = 302) -> Response:
    return Response(status, b"", {"Location": location})


def error_collection(status: int, messages: list[str] | None = None,
                     errors: dict[str, str] | None = None) -> Response:
    """Jira's ErrorCollection body."""
    return json_response({"errorMessages": messages or [], "errors": errors or {}}, status)


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    template: str   # e.g. /rest/api/3/issue/{issueIdOrKey}
    handler: Handler
    regex: re.Pattern = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        self.regex = re.compile(f"^{pattern}$")


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path params, path_exists_for_another_method)."""
        path_seen = False
        for route in self.routes:
            m = route.regex.match(path)
            if m:
                if route.method == method:
                    return route, m.groupdict(), True
                path_seen = True
        return None, {}, path_seen
