"""Every page names our favicon, the admin's included, and /favicon.ico finds it."""

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import reverse

from tests.factories import make_experiment, make_recorded_job, make_resource, make_user

pytestmark = pytest.mark.django_db

ICON = '<link rel="icon" href="/static/aupsite/favicon.svg" type="image/svg+xml">'


def assert_names_the_icon(client, url):
    response = client.get(url)
    assert response.status_code in (200, 404), url
    assert response["Content-Type"].startswith("text/html"), url
    assert response.content.decode().count(ICON) == 1, url


def test_it_redirects_favicon_ico_to_the_icon_before_anyone_logs_in():
    client = Client()
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response.url == "/static/aupsite/favicon.svg"
    icon = client.get(response.url)
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content)


def test_it_names_the_icon_on_the_login_pages():
    client = Client()
    for url in ("/accounts/login/", "/admin/login/"):
        assert_names_the_icon(client, url)


def test_it_names_the_icon_on_every_page_and_every_admin_page(client):
    root = make_user("root", is_staff=True, is_superuser=True)
    cpu = make_resource()
    experiment = make_experiment(make_user("alice"), "search")
    job = make_recorded_job(experiment, cpu, steps=2)
    client.force_login(root)
    request = RequestFactory().get("/admin/")
    request.user = root
    pages = [
        "/", experiment.get_absolute_url(), f"/jobs/{job.pk}/", "/resources/", "/api/docs/", "/no/such/page/",
        "/admin/", "/admin/password_change/", "/admin/tracking/resource/add-bulk/",
    ]
    # Each registered model's list, add and change pages, whatever the admin registers.
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        pages.append(reverse(f"admin:{info[0]}_{info[1]}_changelist"))
        if model_admin.has_add_permission(request):
            pages.append(reverse(f"admin:{info[0]}_{info[1]}_add"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            pages.append(reverse(f"admin:{info[0]}_{info[1]}_change", args=[first.pk]))
    assert len(pages) > 15
    for url in pages:
        assert_names_the_icon(client, url)
