from django import template

register = template.Library()


@register.filter
def cell(column, violation_id):
    return column.get(violation_id)
