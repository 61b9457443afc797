"""Template filters of notes and tags (tracking/notes.py): Markdown rendered and sanitised."""

from django import template
from django.utils.safestring import mark_safe

from tracking.notes import render_markdown

register = template.Library()


@register.filter
def markdown(text):
    """Notes as HTML: rendered from Markdown with raw HTML off, then sanitised with an
    allow-list (tracking.notes.render_markdown), so it is safe to mark as such."""
    return mark_safe(render_markdown(text or ""))  # noqa: S308 - sanitised by nh3 just above
