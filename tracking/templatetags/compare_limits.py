"""compare (issue 13, item 5): the comparisons' limits for the pages that offer them (the
jobs table's compare bar, the experiments list), from tracking/compare.py, so that no
limit is typed again in a template or in JavaScript."""

from django import template

from tracking import compare

register = template.Library()


@register.simple_tag
def compare_limits():
    """{"jobs": (min, max), "experiments": (min, max)}."""
    return {
        "jobs": {"min": compare.MIN_JOBS, "max": compare.MAX_JOBS},
        "experiments": {"min": compare.MIN_EXPERIMENTS, "max": compare.MAX_EXPERIMENTS},
    }
