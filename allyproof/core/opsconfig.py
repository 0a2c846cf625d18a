"""The operations knobs (log format, the /metrics token), read once from the environment.

Kept beside `config` rather than in it so the product's configuration and the operator's plumbing
can change apart; problems are reported the same way, all at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from allyproof.core.config import ConfigError

LOG_FORMATS = ("json", "plain")


@dataclass(frozen=True)
class OpsConfig:
    log_format: str
    metrics_token: str  # "" = /metrics answers loopback only

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json"


def load(env: dict[str, str] | None = None, *, production: bool) -> OpsConfig:
    env = dict(os.environ if env is None else env)
    problems: list[str] = []
    log_format = env.get("ALLYPROOF_LOG_FORMAT") or ("json" if production else "plain")
    if log_format not in LOG_FORMATS:
        problems.append(f"ALLYPROOF_LOG_FORMAT={log_format!r} must be one of {', '.join(LOG_FORMATS)}")
    token = env.get("ALLYPROOF_METRICS_TOKEN", "")
    if token and len(token) < 24:
        problems.append("ALLYPROOF_METRICS_TOKEN is too short (use 24+ random characters, or leave it unset "
                        "to serve /metrics on loopback only)")
    if problems:
        raise ConfigError(problems)
    return OpsConfig(log_format=log_format, metrics_token=token)
