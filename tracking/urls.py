"""The site's pages and its API, by resource, in one namespace: `tracking:<name>`.

Each object has one parameter name everywhere, in the pages as in the API: `eid` for an
experiment, `jid` for a job, `rid` for a resource. Page names are the resource, then the
operation (`experiment-stop`); the API's are its own (`api-experiment`), from
tracking/api/urls.py, included here so that they join the namespace unchanged.
"""

from django.urls import include, path

from tracking import compare, controls, directions, exports, notes_pages, tokens, views
from tracking.api import urls as api_urls  # registers the <id:...> converter used below

app_name = "tracking"

urlpatterns = [
    # -- experiments: the list, one experiment's page and chart data, and its controls
    # (owner or staff: tracking/controls.py).
    path("", views.experiment_list, name="experiment-list"),
    path("experiments/<id:eid>/", views.experiment_detail, name="experiment"),
    path("experiments/<id:eid>/charts.json", views.experiment_charts, name="experiment-charts"),
    # -- exports (tracking/exports.py): the jobs table and the list, as their pages show them
    path("experiments/<id:eid>/jobs.csv", exports.jobs_csv, name="experiment-jobs-csv"),
    path("experiments/<id:eid>/jobs.json", exports.jobs_json, name="experiment-jobs-json"),
    path("experiments.csv", exports.experiments_csv, name="experiment-list-csv"),
    path("experiments.json", exports.experiments_json, name="experiment-list-json"),
    # -- end of exports
    # -- parallel coordinates (issue 13)
    path("experiments/<id:eid>/parcoords.json", views.experiment_parcoords, name="experiment-parcoords"),
    path("experiments/<id:eid>/stop/", controls.stop, name="experiment-stop"),
    path("experiments/<id:eid>/restart/", controls.restart, name="experiment-restart"),
    path("experiments/<id:eid>/delete/", controls.delete, name="experiment-delete"),
    path("experiments/<id:eid>/reset/", controls.reset, name="experiment-reset"),
    path("experiments/<id:eid>/share/", controls.share, name="experiment-share"),
    path("experiments/<id:eid>/share/<id:share_id>/remove/", controls.unshare, name="experiment-unshare"),
    # -- issue 13, part 3: which way is better for each labeled result (tracking/directions.py)
    path("experiments/<id:eid>/directions/", directions.directions, name="experiment-directions"),
    # -- jobs
    path("jobs/<id:jid>/", views.job_detail, name="job"),
    path("jobs/<id:jid>/chart.json", views.job_chart, name="job-chart"),
    # -- notes and tags (issue 13, item 7; tracking/notes_pages.py): owner or staff
    path("experiments/<id:eid>/notes/", notes_pages.experiment_notes, name="experiment-notes"),
    path("experiments/<id:eid>/tags/", notes_pages.experiment_tags, name="experiment-tags"),
    path("jobs/<id:jid>/notes/", notes_pages.job_notes, name="job-notes"),
    # -- end of notes and tags
    # -- resources
    path("resources/", views.resource_list, name="resource-list"),
    # -- the signed-in user's own API tokens (tracking/tokens.py)
    path("tokens/", tokens.token_list, name="token-list"),
    path("tokens/<id:token_id>/revoke/", tokens.token_revoke, name="token-revoke"),
    # -- compare (issue 13, item 5; tracking/compare.py): jobs of one experiment side by
    # side, and experiments' best so far overlaid. The ids are in the query string.
    path("experiments/compare/", compare.experiments_page, name="experiment-compare"),
    path("experiments/<id:eid>/compare/", compare.jobs_page, name="experiment-compare-jobs"),
    # -- end compare
    # -- the API (its own 404 for any other path under api/)
    path("api/", include(api_urls)),
]
