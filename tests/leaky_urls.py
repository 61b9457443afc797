"""A URLconf of deliberate mistakes, for tests/test_access.py to prove it catches them."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path

from aupsite.urls import urlpatterns as site_urlpatterns

from tracking.models import Experiment


@login_not_required
def anonymous_leak(request, eid):
    return HttpResponse(get_object_or_404(Experiment, pk=eid).name)


def owner_leak(request, eid):
    # Forgets visible_to: any logged-in user sees any experiment.
    return HttpResponse(get_object_or_404(Experiment, pk=eid).name)


def list_leak(request):
    return HttpResponse(", ".join(Experiment.objects.values_list("name", flat=True)))


def crash(request, eid):
    if request.method == "POST":
        raise RuntimeError("unhandled")
    return HttpResponse(status=404)


def safe(request, eid):
    return HttpResponse(get_object_or_404(Experiment.objects.visible_to(request.user), pk=eid).name)


urlpatterns = [
    path("leak/anonymous/<int:eid>/", anonymous_leak, name="anonymous_leak"),
    path("leak/owner/<int:eid>/", owner_leak, name="owner_leak"),
    path("leak/list/", list_leak, name="list_leak"),
    path("leak/crash/<int:eid>/", crash, name="crash"),
    path("leak/safe/<int:eid>/", safe, name="safe"),
]

# The site itself too: the page frame (base.html, the 404 page) links to its pages, and
# its login page is where LoginRequiredMiddleware sends anonymous users.
urlpatterns += site_urlpatterns
