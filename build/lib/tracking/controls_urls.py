"""The owner's controls of one experiment, included under experiments/<int:eid>/."""

from django.urls import path

from tracking import controls

app_name = "controls"

urlpatterns = [
    path("stop/", controls.stop, name="stop"),
    path("restart/", controls.restart, name="restart"),
    path("delete/", controls.delete, name="delete"),
    path("share/", controls.share, name="share"),
    path("share/<int:share_id>/remove/", controls.unshare, name="unshare"),
]
