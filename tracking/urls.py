"""The site's pages and its API, by resource, in one namespace: `tracking:<name>`.

Each object has one parameter name everywhere, in the pages as in the API: `eid` for an
experiment, `jid` for a job, `rid` for a resource. Page names are the resource, then the
operation (`experiment-stop`); the API's are its own (`api-experiment`), from
tracking/api/urls.py, included here so that they join the namespace unchanged.
"""

from django.urls import include, path

from tracking import controls, views

app_name = "tracking"

urlpatterns = [
    # -- experiments: the list, one experiment's page and chart data, and its controls
    # (owner or staff: tracking/controls.py).
    path("", views.experiment_list, name="experiment-list"),
    path("experiments/<int:eid>/", views.experiment_detail, name="experiment"),
    path("experiments/<int:eid>/charts.json", views.experiment_charts, name="experiment-charts"),
    path("experiments/<int:eid>/stop/", controls.stop, name="experiment-stop"),
    path("experiments/<int:eid>/restart/", controls.restart, name="experiment-restart"),
    path("experiments/<int:eid>/delete/", controls.delete, name="experiment-delete"),
    path("experiments/<int:eid>/share/", controls.share, name="experiment-share"),
    path("experiments/<int:eid>/share/<int:share_id>/remove/", controls.unshare, name="experiment-unshare"),
    # -- jobs
    path("jobs/<int:jid>/", views.job_detail, name="job"),
    path("jobs/<int:jid>/chart.json", views.job_chart, name="job-chart"),
    # -- resources
    path("resources/", views.resource_list, name="resource-list"),
    # -- the API (its own 404 for any other path under api/)
    path("api/", include("tracking.api.urls")),
]
