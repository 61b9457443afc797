"""compare (issue 13, item 5): the comparisons' limits for the pages that offer them (the
jobs table's compare bar, the experiments list), from tracking/compare.py, so that no
limit is typed again in a template or in JavaScript; and the comparisons' value filter."""

from django import template

from tracking import compare
from tracking.templatetags.dashboard import clip, config_value

register = template.Library()


@register.simple_tag
def compare_limits():
    """{"jobs": (min, max), "experiments": (min, max)}."""
    return {
        "jobs": {"min": compare.MIN_JOBS, "max": compare.MAX_JOBS},
        "experiments": {"min": compare.MIN_EXPERIMENTS, "max": compare.MAX_EXPERIMENTS},
    }


@register.filter
def compare_value(value):
    """A configuration value in a comparison: as config_value, but a float in full (its
    shortest exact form), so that two values marked as differing never look the same
    (config_value shows 4 significant digits)."""
    if isinstance(value, float):
        return clip(repr(value))
    return config_value(value)
