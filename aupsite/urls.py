from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from aupsite.security import LoginForm

urlpatterns = [
    path("admin/", admin.site.urls),
    # LoginForm: the message for a rate-limited login (aupsite/security.py).
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The pages and the API, in the namespace "tracking".
    path("", include("tracking.urls")),
]
