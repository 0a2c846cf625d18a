"""gunicorn's settings for the production profile (`./dev serve`, docs/production.md).

Access lines are JSON through the product's log chain, with the path but never the query string:
the OAuth callback carries Atlassian's authorization code in it.
"""

from __future__ import annotations

import os

from gunicorn import glogging

from allyproof.core import logs


class AccessLogger(glogging.Logger):
    def access(self, resp, req, environ, request_time):
        if self.access_log_enabled:
            self.access_log.info("http.access", extra=logs.access_fields(environ, resp.status, request_time))


def _json_logs() -> bool:
    wanted = os.environ.get("ALLYPROOF_LOG_FORMAT")
    return wanted == "json" or (wanted is None and os.environ.get("ALLYPROOF_ENV", "production") == "production")


logger_class = AccessLogger
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": "allyproof.core.logs.formatter_factory", "json": _json_logs()}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured",
                             "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def child_exit(server, worker):
    """A dead worker's live gauges must not be summed any more (prometheus_client multiprocess)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


# gunicorn 24+ opens a control socket in the home folder by default; several instances on one host
# would fight over it, and the supervisor (serve, systemd) is the control interface here.
control_socket_disable = True
