"""The API's documentation page: Swagger UI, from our own static files.

drf-spectacular's "split" view serves the page and its start-up script as two responses,
so the page has no inline script; our template also moves its inline <style> into a
static file. So the page runs under a Content Security Policy without 'unsafe-inline'
or 'unsafe-eval'.
"""

from django.contrib.auth.decorators import login_required
from drf_spectacular.views import SpectacularSwaggerSplitView


class SwaggerUIView(SpectacularSwaggerSplitView):
    template_name = "api/docs.html"
    url_name = "tracking:api-schema"
    title = "aupsite API"


# A person without a session is sent to the login page (DRF alone would answer 401).
swagger_ui = login_required(SwaggerUIView.as_view())
