"""Content negotiation: the API speaks JSON, whatever a client's Accept header says."""

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class JSONUnlessAskedOtherwise(DefaultContentNegotiation):
    """DRF's negotiation (so /api/schema/?format=json still picks JSON over YAML), but an
    Accept header that names nothing the view renders gets the view's first renderer
    (JSON for every endpoint) instead of 406: a client that sends a wrong Accept still
    reads the answer, as most APIs behave."""

    def select_renderer(self, request, renderers, format_suffix=None):
        # issue 14 (fastpath): what RestConnector sends (Accept: application/json, no
        # format asked for) picks the first renderer when it is JSON's, as DRF's own
        # negotiation would, without parsing the header (a twentieth of a write's time).
        if (
            format_suffix is None
            and request.META.get("HTTP_ACCEPT") == renderers[0].media_type
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            if format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE):
                raise  # an explicit format the view does not have
            return renderers[0], renderers[0].media_type


class OwnFormat(DefaultContentNegotiation):
    """For the exports (tracking/exports.py), whose ``format`` query value (csv or json)
    is their own, checked by the operation and answered with a streamed body it makes
    itself: DRF must not read ``format`` as its URL format override (which would answer
    ?format=csv with 404, having no CSV renderer). Errors are JSON, as everywhere."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
