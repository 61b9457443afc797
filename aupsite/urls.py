from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from aupsite.security import LoginForm

urlpatterns = [
    # Browsers ask for /favicon.ico on any page that names no icon (a JSON answer, the
    # 500 page), before anyone logs in. Not permanent, and resolved per request: in
    # production the static file's name carries its hash, which changes with it.
    path(
        "favicon.ico",
        login_not_required(RedirectView.as_view(url=lazy(static, str)("aupsite/favicon.svg"))),
        name="favicon",
    ),
    path("admin/", admin.site.urls),
    # LoginForm: the message for a rate-limited login (aupsite/security.py).
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The pages and the API, in the namespace "tracking".
    path("", include("tracking.urls")),
]
