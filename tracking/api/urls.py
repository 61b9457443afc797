"""The API's URLs, mounted under /api/ by aupsite/urls.py."""

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView

from tracking.api import docs, views
from tracking.api.fields import ID_MAX, ID_MIN
from django.contrib.auth.decorators import login_not_required


class IdConverter:
    """An id in a path: an integer a 64-bit id column can hold (beyond that: the 404 of an
    unknown path, instead of a database driver's overflow)."""

    regex = r"-?[0-9]{1,19}"

    def to_python(self, value):
        number = int(value)
        if not ID_MIN <= number <= ID_MAX:
            raise ValueError(value)
        return number

    def to_url(self, value):
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("experiments/", views.experiments, name="api-experiments"),
    path("experiments/ids/", views.experiment_ids, name="api-experiment-ids"),
    # compare (issue 13, item 5)
    path("experiments/compare/", views.experiments_compare, name="api-experiments-compare"),
    path("experiments/<id:eid>/", views.experiment, name="api-experiment"),
    # -- exports (tracking/exports.py)
    path("experiments/export/", views.experiments_export, name="api-experiments-export"),
    path("experiments/<id:eid>/jobs/export/", views.experiment_jobs_export, name="api-experiment-jobs-export"),
    # -- end of exports
    path("experiments/<id:eid>/restart/", views.experiment_restart, name="api-experiment-restart"),
    path("experiments/<id:eid>/end/", views.experiment_end, name="api-experiment-end"),
    path("experiments/<id:eid>/status/", views.experiment_status, name="api-experiment-status"),
    path("experiments/<id:eid>/error/", views.experiment_error, name="api-experiment-error"),
    path("experiments/<id:eid>/labels/", views.experiment_labels, name="api-experiment-labels"),
    # -- issue 13: a label's direction, hyperparameter importance
    path("experiments/<id:eid>/labels/<id:order>/", views.experiment_label, name="api-experiment-label"),
    path("experiments/<id:eid>/importance/", views.experiment_importance, name="api-experiment-importance"),
    # -- issue 13: parallel-coordinates data
    path("experiments/<id:eid>/parcoords/", views.experiment_parcoords, name="api-experiment-parcoords"),
    path("experiments/<id:eid>/jobs/", views.experiment_jobs, name="api-experiment-jobs"),
    path("experiments/<id:eid>/job-ids/", views.experiment_job_ids, name="api-experiment-job-ids"),
    path("experiments/<id:eid>/history/", views.experiment_history, name="api-experiment-history"),
    path("experiments/<id:eid>/best/", views.experiment_best, name="api-experiment-best"),
    path(
        "experiments/<id:eid>/intermediate-results/",
        views.experiment_intermediate_results,
        name="api-experiment-intermediate-results",
    ),
    path("experiments/<id:eid>/curves/", views.experiment_curves, name="api-experiment-curves"),
    # compare (issue 13, item 5)
    path("experiments/<id:eid>/jobs/compare/", views.experiment_compare_jobs, name="api-experiment-compare-jobs"),
    path(
        "experiments/<id:eid>/multiple-results/",
        views.experiment_multiple_results,
        name="api-experiment-multiple-results",
    ),
    path("jobs/<id:jid>/", views.job, name="api-job"),
    path("jobs/<id:jid>/attempts/", views.job_attempts, name="api-job-attempts"),
    path("jobs/<id:jid>/end-attempt/", views.job_end_attempt, name="api-job-end-attempt"),
    path("jobs/<id:jid>/end/", views.job_end, name="api-job-end"),
    path("jobs/<id:jid>/status/", views.job_status, name="api-job-status"),
    path("jobs/<id:jid>/intermediate-results/", views.job_intermediate_results, name="api-job-intermediate-results"),
    path("jobs/<id:jid>/multiple-results/", views.job_multiple_results, name="api-job-multiple-results"),
    path("jobs/<id:jid>/multiple-results/last/", views.job_last_multiple_results, name="api-job-last-multiple-results"),
    path("intermediate-results/", views.intermediate_results, name="api-intermediate-results"),
    path("intermediate-results/batch/", views.intermediate_results_batch, name="api-intermediate-results-batch"),
    path("resources/", views.resources, name="api-resources"),
    path("resources/<id:rid>/", views.resource, name="api-resource"),
    path("resources/types/", views.resource_types, name="api-resource-types"),
    path("resources/available/", views.resources_available, name="api-resources-available"),
    path("resources/free-all/", views.resources_free_all, name="api-resources-free-all"),
    path("resources/<id:rid>/take/", views.resource_take, name="api-resource-take"),
    path("resources/<id:rid>/free/", views.resource_free, name="api-resource-free"),
    path("tokens/", views.tokens, name="api-tokens"),
    path("tokens/<id:token_id>/revoke/", views.token_revoke, name="api-token-revoke"),
    # The schema is for programs too (token or session); the docs page is for a person,
    # whom LoginRequiredMiddleware sends to the login page first.
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
    path("docs/", docs.swagger_ui, name="api-docs"),
    # Anything else, newlines included: a JSON 404 (after authentication), not an HTML page.
    re_path(r"^(?P<url>[\s\S]*)$", views.not_found),
]
