from django import template
from django.utils.html import format_html

from allyproof.monitoring.targets import target_text

register = template.Library()


@register.filter
def cell(column, violation_id):
    return column.get(violation_id)


@register.filter
def impact_badge(impact: str):
    """The impact badge; a filter, not an include, because big tables render thousands of them."""
    return format_html('<span class="badge impact-{}">{}</span>', impact, impact.capitalize())


@register.filter
def axe_target(target) -> str:
    """A sample's target as one line (monitoring/targets.py): the page once showed a shadow-DOM path as a
    Python list, "['acme-chat-launcher', '.launcher']"."""
    return target_text(target)
