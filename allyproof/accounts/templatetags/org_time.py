"""Times as people read them: in the organization's time zone (activated per request), with its name."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html

register = template.Library()

DEFAULT_FORMAT = "j M Y, H:i"


def format_when(value: dt.datetime, fmt: str = DEFAULT_FORMAT) -> str:
    """"1 Dec 2026, 21:49 Europe/Paris": the zone's name, not an abbreviation (CST means three zones)."""
    return f"{dateformat.format(timezone.localtime(value), fmt)} {timezone.get_current_timezone_name()}"


@register.filter
def when(value, fmt: str = DEFAULT_FORMAT):
    if not isinstance(value, dt.datetime):
        return ""
    return format_html('<time datetime="{}" class="when">{}</time>', value.astimezone(dt.UTC).isoformat(),
                       format_when(value, fmt))
