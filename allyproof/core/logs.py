"""Structured logs: one JSON object a line in production, readable lines in development.

Every record, ours or a library's, goes through one structlog chain that names the event, keeps the
ids, and redacts secrets on the way out: values under secret-sounding keys, bearer/basic credentials,
JWTs, and `code=`/`token=`-style pairs inside any text (an OAuth callback URL in an exception, a
request's repr). Redaction sits in the formatter, not at each call site, because a secret leaks
through the call nobody thought of.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import structlog

REDACTED = "[redacted]"
# Keys whose value is a credential whatever it looks like. "status_code" is not the OAuth code.
_SECRET_KEY = re.compile(
    r"^(code|auth_code|authorization_code|state)$|token|secret|password|passwd|authorization|cookie|"
    r"api_?key|jwt|signature|credential",
    re.IGNORECASE,
)
_SECRET_TEXT = [
    (re.compile(r"\b(Bearer|Basic|JWT)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(
        r"\b(code|state|token|access_token|refresh_token|client_secret|id_token|password|jwt)"
        r"(=|:\s*|['\"]\s*:\s*['\"])([^&\s'\",}]+)",
        re.IGNORECASE,
    ), r"\1\2" + REDACTED),
    # A connection's webhook URL ends in its token (integrations/jira/webhook/<token>/): a credential in
    # a path, so access lines and request logs keep the route and drop the token (found by the soak).
    (re.compile(r"(/integrations/jira/webhook/)([^/\s?\"']+)"), r"\1" + REDACTED),
]
# "jira.webhook.synced connection=5 ids=[3]": the codebase's event-name-then-pairs messages.
_EVENT_MESSAGE = re.compile(r"^([a-z_]+(?:\.[a-z_]+)+)(?:\s+(.*))?$", re.DOTALL)
_RESERVED = frozenset({"event", "level", "logger", "timestamp"})
# An unquoted value runs to the next " key=": "error=%s" with a sentence in it (a JiraError's text)
# kept only its first word ("error": "the") before (found reading the soak's logs).
_PAIR = re.compile(r"(\w+)=('[^']*'|\"[^\"]*\"|\[[^\]]*\]|\S+(?:\s+(?!\w+=)\S+)*)")


# One cheap search first: most strings in a log line (ids, outcomes, levels) hold none of these words.
_MAYBE_SECRET = re.compile(r"bearer|basic|jwt|eyj|code|state|token|secret|password|webhook/", re.IGNORECASE)
_SAFE_KEYS = frozenset({"timestamp", "level", "logger"})


@functools.lru_cache(maxsize=1024)  # log keys repeat: decide each name once
def _secret_key(name: str) -> bool:
    return bool(_SECRET_KEY.search(name))


def scrub_text(text: str) -> str:
    if not _MAYBE_SECRET.search(text):
        return text
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: v if k in _SAFE_KEYS else REDACTED if _secret_key(str(k)) else _scrub(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if hasattr(value, "method") and hasattr(value, "path") and hasattr(value, "META"):
        return {"method": value.method, "path": value.path}  # a Django request: never its query string
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub_text(repr(value))


def redact(_logger, _name, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the last word before rendering."""
    return _scrub(event_dict)


def split_event_message(_logger, _name, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Turns "jira.reconcile connection=5 resolved=2" into event + fields, so logs can be queried."""
    event = event_dict.get("event")
    match = _EVENT_MESSAGE.match(event) if isinstance(event, str) else None
    if match:
        event_dict["event"] = match.group(1)
        for key, value in _PAIR.findall(match.group(2) or ""):
            if key in _RESERVED:  # "event=jira:issue_updated" must not overwrite the event name
                key = "event_name" if key == "event" else f"{key}_field"
            event_dict.setdefault(key, value.strip("'\""))
    return event_dict


def _drop_noise(_logger, _name, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in ("_record", "_from_structlog", "color_message", "server_time"):
        event_dict.pop(key, None)
    return event_dict


def _pre_chain() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def formatter(*, json: bool) -> structlog.stdlib.ProcessorFormatter:
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_pre_chain(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_noise,
            split_event_message,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )


def formatter_factory(json: bool = True) -> structlog.stdlib.ProcessorFormatter:
    """For dictConfig's "()" key (Django's LOGGING, gunicorn's logconfig_dict)."""
    return formatter(json=json)


def configure_structlog() -> None:
    """structlog's own loggers hand their events to stdlib logging, so one formatter renders all."""
    structlog.configure(
        processors=[*_pre_chain()[:2], structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def logging_config(*, json: bool, level: str = "INFO") -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": "allyproof.core.logs.formatter_factory", "json": json}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            # runserver's request lines carry full URLs (the OAuth callback's code): development only,
            # and redacted like the rest.
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
            # With a handler here run_huey adds none of its own: consumers log through the same chain.
            "huey": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }


ACCESS_FIELDS = "allyproof.access"  # a view's own fields for its access line, set in the WSGI environ


def access_fields(environ: dict[str, Any], status: Any, request_time) -> dict[str, Any]:
    """An access-log line: the path without its query string (the OAuth callback carries a code). A view
    may add fields and replace the path under ACCESS_FIELDS: the webhook receiver names the delivery's
    outcome and reason there and keeps its callback URL's token out, so its line is the one line a
    delivery gets."""
    return {
        "method": environ.get("REQUEST_METHOD"),
        "path": environ.get("PATH_INFO"),
        "status": int(str(status).split(None, 1)[0]),
        "duration_ms": round(request_time.total_seconds() * 1000, 2),
        "remote": environ.get("REMOTE_ADDR"),
        **environ.get(ACCESS_FIELDS, {}),
    }
