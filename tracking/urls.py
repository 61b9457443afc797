"""The site's pages and its API, by resource, in one namespace: `tracking:<name>`.

Each object has one parameter name everywhere, in the pages as in the API: `eid` for an
experiment, `jid` for a job, `rid` for a resource. Page names are the resource, then the
operation (`experiment-stop`); the API's are its own (`api-experiment`), from
tracking/api/urls.py, included here so that they join the namespace unchanged.
"""

from django.urls import include, path

from tracking import controls, tokens, views
from tracking.api import urls as api_urls  # registers the <id:...> converter used below

app_name = "tracking"

urlpatterns = [
    # -- experiments: the list, one experiment's page and chart data, and its controls
    # (owner or staff: tracking/controls.py).
    path("", views.experiment_list, name="experiment-list"),
    path("experiments/<id:eid>/", views.experiment_detail, name="experiment"),
    path("experiments/<id:eid>/charts.json", views.experiment_charts, name="experiment-charts"),
    # -- parallel coordinates (issue 13)
    path("experiments/<id:eid>/parcoords.json", views.experiment_parcoords, name="experiment-parcoords"),
    path("experiments/<id:eid>/stop/", controls.stop, name="experiment-stop"),
    path("experiments/<id:eid>/restart/", controls.restart, name="experiment-restart"),
    path("experiments/<id:eid>/delete/", controls.delete, name="experiment-delete"),
    path("experiments/<id:eid>/reset/", controls.reset, name="experiment-reset"),
    path("experiments/<id:eid>/share/", controls.share, name="experiment-share"),
    path("experiments/<id:eid>/share/<id:share_id>/remove/", controls.unshare, name="experiment-unshare"),
    # -- jobs
    path("jobs/<id:jid>/", views.job_detail, name="job"),
    path("jobs/<id:jid>/chart.json", views.job_chart, name="job-chart"),
    # -- resources
    path("resources/", views.resource_list, name="resource-list"),
    # -- the signed-in user's own API tokens (tracking/tokens.py)
    path("tokens/", tokens.token_list, name="token-list"),
    path("tokens/<id:token_id>/revoke/", tokens.token_revoke, name="token-revoke"),
    # -- the API (its own 404 for any other path under api/)
    path("api/", include(api_urls)),
]
