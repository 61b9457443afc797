"""The export links' query strings (tracking/exports.py)."""

from django import template

register = template.Library()

# The jobs table's brush (the parallel-coordinates part): one key per brushed axis.
BRUSH_PREFIX = "b."


@register.simple_tag(takes_context=True)
def export_query(context, *keys, brush=False):
    """The current query string cut to `keys` (and, with `brush`, every ``b.*`` key): what
    decides an export's rows, without the page number or the charts' view keys, which do
    not. "" when none is set."""
    params = context["request"].GET.copy()
    for key in list(params):
        if key not in keys and not (brush and key.startswith(BRUSH_PREFIX)):
            del params[key]
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else ""
