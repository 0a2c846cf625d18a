from django import template
from django.utils.html import format_html

from allyproof.core.links import is_web_url, link_text

register = template.Library()


@register.filter
def weblink(href, text=None):
    """`{{ url|weblink }}` or `{{ url|weblink:label }}`: a link for an http(s) URL, plain text otherwise."""
    text = href if text is None else text
    if is_web_url(href):
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', href, text)
    return link_text(str(text), str(href or ""))  # autoescaped by the template
