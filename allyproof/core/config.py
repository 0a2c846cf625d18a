"""Typed configuration, read once from the environment.

Every knob the product has comes from an environment variable (12-factor). `load()` parses
them all, collects every problem, and raises one `ConfigError` that names each variable, so
an operator fixes a broken deployment in one go instead of one crash at a time.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from allyproof.core import crypto, files

REPO_ROOT = Path(__file__).resolve().parents[2]

ENVIRONMENTS = ("development", "test", "production")
ATLASSIAN_AUTH_URL = "https://auth.atlassian.com"
ATLASSIAN_API_URL = "https://api.atlassian.com"


class ConfigError(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "AllyProof cannot start; fix these environment variables:\n  - " + "\n  - ".join(problems)
        )


@dataclass(frozen=True)
class Config:
    environment: str
    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    encryption_keys: str
    public_url: str
    atlassian_client_id: str
    atlassian_client_secret: str
    atlassian_auth_url: str
    atlassian_api_url: str
    jira_push_interval_ms: int
    jira_job_stale_seconds: int
    max_upload_bytes: int
    behind_proxy: bool = False
    proxy_ssl_header: str = ""
    extra_hosts: tuple[str, ...] = ()
    scan_allow_private: bool = False
    scan_concurrency: int = 2
    # The unknown-outcome protocol (docs/jira.md): after a create whose outcome we could not see, no
    # second create until Jira can no longer commit the first (commit window, since it was sent) and
    # label searches spread over the search-lag window after that found nothing.
    jira_commit_window_seconds: int = 300
    jira_search_lag_seconds: int = 600
    # The first label search after an unknown outcome is due this long after the send (capped at the
    # commit window): sent at once it mostly misses, because Jira's search trails its writes by seconds.
    jira_first_look_seconds: int = 5
    jira_http_timeout_seconds: float = 15.0
    # How long the violation page's Push to Jira waits before "Pushing…": with the request's own work and the
    # page's swap, a person sees an answer within two seconds (issue 8's promise).
    jira_push_wait_ms: int = 1500
    jira_sync_log_days: int = 90
    # The app's hourly points pool until Atlassian's headers say otherwise, and the share of every pool
    # that bulk pushes leave to a person's single push and to reconciliation (budget.py).
    jira_points_per_hour: int = 65000
    jira_budget_headroom_percent: int = 3
    notes: list[str] = field(default_factory=list)
    support: str = ""  # ALLYPROOF_SUPPORT: an email address or an http(s) URL shown under Settings → Support

    def replace(self, **changes) -> Config:
        """A copy with some values changed (tests, benchmarks); an unknown name is a TypeError."""
        return dataclasses.replace(self, **changes)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def debug(self) -> bool:
        return self.environment == "development"

    @property
    def public_host(self) -> str:
        return urlsplit(self.public_url).hostname or "localhost"

    @property
    def uses_default_atlassian(self) -> bool:
        return self.atlassian_auth_url == ATLASSIAN_AUTH_URL


def _int(env, name: str, default: int, problems: list[str], minimum: int = 0) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name}={raw!r} is not a whole number")
        return default
    if value < minimum:
        problems.append(f"{name}={value} must be at least {minimum}")
    return value


def _url(env, name: str, default: str, problems: list[str]) -> str:
    value = (env.get(name) or default).rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{name}={value!r} must be an absolute http(s) URL")
    return value


def _support(env, problems: list[str]) -> str:
    value = (env.get("ALLYPROOF_SUPPORT") or "").strip()
    if value and not (value.startswith(("https://", "http://")) or ("@" in value and " " not in value)):
        problems.append(f"ALLYPROOF_SUPPORT={value!r} must be an email address or an http(s) URL")
    return value


def _local_secret(data_dir: Path, notes: list[str]) -> str:
    """The embedded default keeps a generated secret in the data folder so sessions survive restarts."""
    path = data_dir / "secret_key"
    if not path.exists():
        files.private_dir(data_dir)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        notes.append(f"generated a local ALLYPROOF_SECRET_KEY in {data_dir.name}/{path.name} (development only)")
    return path.read_text().strip()


SECRET_MIN_LENGTH = 50
SECRET_MIN_DISTINCT = 10


def _weak_secret_problems(secret_key: str) -> list[str]:
    """Django's own deployment check asks for 50 characters and 5 distinct ones; we ask for 10."""
    problems = []
    if len(secret_key) < SECRET_MIN_LENGTH:
        problems.append(
            f"ALLYPROOF_SECRET_KEY is {len(secret_key)} characters; production needs at least {SECRET_MIN_LENGTH} "
            "random characters (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    if len(set(secret_key)) < SECRET_MIN_DISTINCT:
        problems.append(
            f"ALLYPROOF_SECRET_KEY has only {len(set(secret_key))} distinct characters; production needs "
            f"at least {SECRET_MIN_DISTINCT} (use a random key)"
        )
    return problems


def _flag(env, name: str, problems: list[str]) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw not in ("", "0", "1", "true", "false", "yes", "no"):
        problems.append(f"{name}={raw!r} must be 1/true/yes or 0/false/no")
    return raw in ("1", "true", "yes")


def _proxy_and_hosts(env, production: bool, problems: list[str]) -> dict:
    behind_proxy = _flag(env, "ALLYPROOF_BEHIND_PROXY", problems)
    header = (env.get("ALLYPROOF_PROXY_SSL_HEADER") or "").strip()
    if header and not re.fullmatch(r"[A-Za-z0-9-]+", header):
        problems.append(f"ALLYPROOF_PROXY_SSL_HEADER={header!r} must be a header name such as X-Forwarded-Proto")
    if behind_proxy and not header:
        problems.append(
            "ALLYPROOF_PROXY_SSL_HEADER is required with ALLYPROOF_BEHIND_PROXY: the header your proxy sets "
            "to 'https' (usually X-Forwarded-Proto)"
        )
    hosts = tuple(h.strip() for h in (env.get("ALLYPROOF_ALLOWED_HOSTS") or "").split(",") if h.strip())
    if production and any(h in _LOCAL_HOSTS for h in hosts):
        problems.append("ALLYPROOF_ALLOWED_HOSTS must not name localhost addresses in production")
    return {"behind_proxy": behind_proxy, "proxy_ssl_header": header, "extra_hosts": hosts}


_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1", "testserver")


def _secret_key(env: dict[str, str], environment: str, data_dir: Path, problems: list[str],
                notes: list[str]) -> str:
    secret_key = env.get("ALLYPROOF_SECRET_KEY", "")
    if secret_key:
        if environment == "production":
            problems.extend(_weak_secret_problems(secret_key))
        return secret_key
    if environment == "production":
        problems.append("ALLYPROOF_SECRET_KEY is required in production (50+ random characters)")
        return ""
    if environment == "test":
        return "test-only-secret-key-" + "x" * 40
    return _local_secret(data_dir, notes)


def _encryption_keys(env: dict[str, str], environment: str, data_dir: Path, problems: list[str],
                     notes: list[str]) -> str | None:
    encryption_keys = env.get("ALLYPROOF_ENCRYPTION_KEYS") or None
    if encryption_keys:
        try:
            crypto.parse(encryption_keys)
        except crypto.KeyringError as error:
            problems.append(str(error))
        return encryption_keys
    if environment == "production":
        problems.append(
            "ALLYPROOF_ENCRYPTION_KEYS is required in production "
            "(key-id:base64 32-byte key, comma-separated, primary first)"
        )
        return None
    if environment == "test":
        return "test1:" + "dGVzdC1vbmx5LWtleS10ZXN0LW9ubHkta2V5LTMyYnk="
    encryption_keys, created = crypto.local_key_spec(data_dir)
    if created:
        notes.append(f"generated a local encryption key in {data_dir.name}/encryption_keys (development only)")
    return encryption_keys


def _stores(env: dict[str, str], data_dir: Path, problems: list[str]) -> dict[str, Any]:
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'allyproof.sqlite3'}"
    if not database_url.startswith(("sqlite:", "postgres:", "postgresql:")):
        problems.append("DATABASE_URL must be a sqlite:/// or postgres:// URL")
    redis_url = env.get("REDIS_URL") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        problems.append("REDIS_URL must be a redis:// or rediss:// URL")
    return {"database_url": database_url, "redis_url": redis_url}


def _atlassian_and_jira(env: dict[str, str], problems: list[str]) -> dict[str, Any]:
    return dict(
        atlassian_client_id=env.get("ATLASSIAN_CLIENT_ID", ""),
        atlassian_client_secret=env.get("ATLASSIAN_CLIENT_SECRET", ""),
        atlassian_auth_url=_url(env, "ATLASSIAN_AUTH_URL", ATLASSIAN_AUTH_URL, problems),
        atlassian_api_url=_url(env, "ATLASSIAN_API_URL", ATLASSIAN_API_URL, problems),
        jira_push_interval_ms=_int(env, "JIRA_PUSH_INTERVAL_MS", 150, problems),
        jira_job_stale_seconds=_int(env, "JIRA_JOB_STALE_SECONDS", 120, problems, minimum=1),
        jira_commit_window_seconds=_int(env, "JIRA_COMMIT_WINDOW_SECONDS", 300, problems),
        jira_search_lag_seconds=_int(env, "JIRA_SEARCH_LAG_SECONDS", 600, problems),
        jira_first_look_seconds=_int(env, "JIRA_FIRST_LOOK_SECONDS", 5, problems),
        jira_http_timeout_seconds=float(_int(env, "JIRA_HTTP_TIMEOUT_SECONDS", 15, problems, minimum=1)),
        jira_push_wait_ms=_int(env, "JIRA_PUSH_WAIT_MS", 1500, problems),
        jira_sync_log_days=_int(env, "JIRA_SYNC_LOG_DAYS", 90, problems, minimum=1),
        jira_points_per_hour=_int(env, "JIRA_POINTS_PER_HOUR", 65000, problems, minimum=1),
        jira_budget_headroom_percent=min(90, _int(env, "JIRA_BUDGET_HEADROOM_PERCENT", 3, problems)),
    )


def _production_problems(config: Config, env: dict[str, str]) -> list[str]:
    problems = []
    if not config.public_url.startswith("https://"):
        problems.append(
            f"ALLYPROOF_PUBLIC_URL={config.public_url!r} must be an https:// URL in production "
            "(sign-in cookies are sent only over https)"
        )
    if "ALLYPROOF_BEHIND_PROXY" not in env:
        problems.append(
            "ALLYPROOF_BEHIND_PROXY must be set in production: 1 when a reverse proxy terminates TLS "
            "(with ALLYPROOF_PROXY_SSL_HEADER), 0 when gunicorn serves https itself"
        )
    if not (config.atlassian_client_id and config.atlassian_client_secret):
        problems.append("ATLASSIAN_CLIENT_ID and ATLASSIAN_CLIENT_SECRET are required in production")
    return problems


def load(env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    problems: list[str] = []
    notes: list[str] = []

    environment = env.get("ALLYPROOF_ENV", "development")
    if environment not in ENVIRONMENTS:
        problems.append(f"ALLYPROOF_ENV={environment!r} must be one of {', '.join(ENVIRONMENTS)}")
    production = environment == "production"
    data_dir = Path(env.get("ALLYPROOF_DATA_DIR") or REPO_ROOT / "var").resolve()

    config = Config(
        environment=environment,
        data_dir=data_dir,
        **_stores(env, data_dir, problems),
        secret_key=_secret_key(env, environment, data_dir, problems, notes),
        encryption_keys=_encryption_keys(env, environment, data_dir, problems, notes),
        public_url=_url(env, "ALLYPROOF_PUBLIC_URL", "http://127.0.0.1:8000", problems),
        **_atlassian_and_jira(env, problems),
        max_upload_bytes=_int(env, "ALLYPROOF_MAX_UPLOAD_MB", 200, problems, minimum=1) * 1024 * 1024,
        scan_allow_private=env.get("ALLYPROOF_SCAN_ALLOW_PRIVATE", "") == "1",
        scan_concurrency=_int(env, "ALLYPROOF_SCAN_CONCURRENCY", 2, problems, minimum=1),
        notes=notes,
        **_proxy_and_hosts(env, production, problems),
        support=_support(env, problems),
    )
    if production:
        problems += _production_problems(config, env)
    if problems:
        raise ConfigError(problems)
    return config
