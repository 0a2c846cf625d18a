"""Impact levels: the one place that knows axe-core's four words, their order and how people read them.

Most severe first. Badges, sorting, the severity filter, Jira summaries and the charts all use this
order; queries sort by `rank_expression()` (critical highest), which the database computes.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Case, IntegerField, Value, When


class Impact(models.TextChoices):
    CRITICAL = "critical", "Critical"
    SERIOUS = "serious", "Serious"
    MODERATE = "moderate", "Moderate"
    MINOR = "minor", "Minor"


ORDER: tuple[Impact, ...] = tuple(Impact)
VALUES: tuple[str, ...] = tuple(impact.value for impact in ORDER)
RANK: dict[str, int] = {value: len(VALUES) - i for i, value in enumerate(VALUES)}  # critical 4 … minor 1
_LABELS = {impact.value: impact.label for impact in ORDER}


def label(value: str) -> str:
    """"Critical" for "critical"; an unknown word is shown as it came."""
    return _LABELS.get(value, value)


def rank_expression(field: str = "impact") -> Case:
    return Case(*(When(**{field: value}, then=Value(rank)) for value, rank in RANK.items()), default=Value(0),
                output_field=IntegerField())
