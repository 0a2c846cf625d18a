from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def cell(column, violation_id):
    return column.get(violation_id)


@register.filter
def impact_badge(impact: str):
    """The impact badge; a filter, not an include, because big tables render thousands of them."""
    return format_html('<span class="badge impact-{}">{}</span>', impact, impact.capitalize())
