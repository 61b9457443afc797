from django.urls import path

from tracking import views

urlpatterns = [
    path("", views.experiment_list, name="experiments"),
    path("experiments/<int:experiment_id>/", views.experiment_detail, name="experiment"),
    path("experiments/<int:experiment_id>/charts.json", views.experiment_charts, name="experiment-charts"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("jobs/<int:job_id>/chart.json", views.job_chart, name="job-chart"),
    path("resources/", views.resource_list, name="resources"),
]
