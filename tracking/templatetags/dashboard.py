"""Template filters of the dashboard: scores, durations and config values as people read them."""

import json
import math
from datetime import timedelta

from django import template

from tracking.charts import display_value
from tracking.views import MAX_CONFIG_ENTRIES, MAX_VALUE_CHARS

register = template.Library()


@register.filter
def score(value):
    """A decoded score as what it is: a number, NaN, inf, -inf or the executor's text."""
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    return str(value)


@register.filter
def status_label(value):
    """A job or experiment status as words: 'early stopped', 'no status'."""
    if not value:
        return "no status"
    return str(value).lower().replace("_", " ")


@register.filter
def status_class(value):
    return f"status-{str(value).lower()}" if value else "status-none"


@register.filter
def duration(value):
    """A timedelta (or seconds) as '2h 05m', '3m 07s' or '12s'."""
    if value is None or value == "":
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    seconds = max(int(round(seconds)), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@register.filter
def clip(value, limit=MAX_VALUE_CHARS):
    """`value` as text, cut to `limit` characters with an ellipsis: whatever an
    experiment holds, a page shows a bounded part of it."""
    text = str(value)
    limit = int(limit)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


@register.filter
def config_value(value):
    """A hyperparameter value, compact; lists and dicts as JSON; cut to MAX_VALUE_CHARS."""
    if isinstance(value, (list, dict)):
        return clip(json.dumps(value))
    return clip(display_value(value))


@register.filter
def first_entries(mapping):
    """The first MAX_CONFIG_ENTRIES (key, value) pairs of a dict; nothing for another value."""
    if not isinstance(mapping, dict):
        return []
    return list(mapping.items())[:MAX_CONFIG_ENTRIES]


@register.filter
def is_dict(value):
    """Whether a job's config is a dict of hyperparameters (Auptimizer stores any JSON value)."""
    return isinstance(value, dict)


@register.filter
def as_json(value):
    """A config that is not a dict, shown as itself: its JSON text."""
    return json.dumps(value, ensure_ascii=False)


@register.filter
def get_item(mapping, key):
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def percent(part, whole):
    try:
        return round(100 * part / whole)
    except (TypeError, ZeroDivisionError):
        return 0


@register.simple_tag(takes_context=True)
def query(context, **changes):
    """The current query string with `changes` applied (None or '' removes a key).

    Sort links, filters and pages keep the rest of the state, so every view is a link.
    """
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"
