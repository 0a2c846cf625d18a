"""Access logs never carry the OAuth callback's query string (Atlassian's authorization code and state).

The code is single-use and short-lived, but an access log outlives both and is read by more people than
the database. The filter rewrites the record in place, so every handler of these loggers sees the scrub.
"""

from __future__ import annotations

import logging
import re

CALLBACK_PATH = "/settings/integrations/jira/callback/"
_QUERY = re.compile(re.escape(CALLBACK_PATH) + r"\?[^\s\"']*")
SCRUBBED = CALLBACK_PATH + "?[query not logged]"
# runserver's request lines, gunicorn's access log, and Django's own request warnings.
ACCESS_LOGGERS = ("django.server", "gunicorn.access", "django.request")


class ScrubOAuthCallback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if CALLBACK_PATH + "?" in message:
            record.msg, record.args = _QUERY.sub(SCRUBBED, message), ()
        return True


def install() -> None:
    """Called once from CoreConfig.ready(): on the loggers, not in LOGGING, so gunicorn's handlers stay."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubOAuthCallback) for f in logger.filters):
            logger.addFilter(ScrubOAuthCallback())
