"""Safe defaults that settings alone do not give: the Content Security Policy and the
login rate limit.

Content Security Policy: one strict policy for every response, in production and in
local mode alike (local mode is where the browser tests run, so a page that breaks the
policy fails its tests before it reaches a server). Scripts and styles come only from
our own static files: no inline code, no style="" attributes, no eval. Django 5.2's
admin works under it unchanged (tests/test_security.py loads its pages in Chromium and
collects every violation), so there is no exception for /admin/. The one exception:
with DEBUG on, error responses go without the policy, because Django's debug pages
(tracebacks, "page not found") are made of inline styles and scripts; DEBUG is refused
in production and off in tests.

Login rate limit: failed logins are counted per (user name, client address) in Django's
cache; after LOGIN_FAILURE_LIMIT failures within LOGIN_FAILURE_WINDOW_SECONDS the pair
is refused without checking the password until the window ends. The check lives in the
authentication backend, so every login path that calls django.contrib.auth.authenticate
(the site's login page, the admin's, HTTP Basic in an API) is limited; the login forms
only turn the refusal into a clear message. The cache is the database cache (see
settings.CACHES), shared by every server process, so the limit holds across gunicorn
workers. Two failures at the same instant may both be counted as one (read, then write):
an attacker gains at most a few tries per window, never an unbounded number.
"""

import hashlib
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.backends import ModelBackend, UserModel
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Add the Content-Security-Policy header to every response that has none."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and response.status_code >= 400:
            return response
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


# -- login rate limit -------------------------------------------------------------------


def client_address(request):
    """The client's IP address. Behind the TLS proxy (production) that is the last
    X-Forwarded-For entry, the one the proxy itself appended; anything before it was
    sent by the client and could be forged to dodge the limit."""
    if request is None:
        return "unknown"
    if settings.LOGIN_RATE_LIMIT_TRUST_X_FORWARDED_FOR:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR") or "unknown"


def _key(username, request):
    # User names are case-sensitive in Django, but "Alice" and "alice" are one target.
    raw = f"{str(username).casefold()}\x00{client_address(request)}"
    return "login-failures:" + hashlib.sha256(raw.encode()).hexdigest()


def login_blocked(username, request):
    """True when (username, address) has used up its failed logins for this window."""
    entry = cache.get(_key(username, request))
    return entry is not None and entry[0] >= settings.LOGIN_FAILURE_LIMIT


def record_login_failure(username, request):
    # The window starts at the first failure and is not extended by later ones: the
    # entry keeps its first time and expires with it.
    key = _key(username, request)
    now = time.time()
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    count, started = cache.get(key) or (0, now)
    remaining = max(1, int(started + window - now))
    cache.set(key, (count + 1, started), timeout=remaining)


def clear_login_failures(username, request):
    cache.delete(_key(username, request))


class RateLimitedModelBackend(ModelBackend):
    """Django's ModelBackend, refusing a (user name, address) pair that failed too often.

    Raising PermissionDenied stops authenticate() at once (no password hash is
    computed, no other backend is asked) and sends user_login_failed as any failure.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(UserModel.USERNAME_FIELD)
        if username is None or password is None:
            return None
        if login_blocked(username, request):
            if request is not None:
                request.login_rate_limited = True
            raise PermissionDenied("too many failed logins")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            record_login_failure(username, request)
        else:
            clear_login_failures(username, request)
        return user

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        # ModelBackend's async variant does not go through authenticate(): route it
        # there, so that no login path skips the limit.
        return await sync_to_async(self.authenticate)(request, username=username, password=password, **kwargs)


def rate_limit_message():
    minutes = max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)
    return ValidationError(
        f"Too many failed logins for this user from your address. Try again in {minutes} minutes.",
        code="rate_limited",
    )


class LoginForm(AuthenticationForm):
    """The site's login form: says so when the rate limit refused the attempt."""

    def get_invalid_login_error(self):
        if getattr(self.request, "login_rate_limited", False):
            return rate_limit_message()
        return super().get_invalid_login_error()


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login form, with the same message (installed in tracking/admin.py)."""

    def get_invalid_login_error(self):
        if getattr(self.request, "login_rate_limited", False):
            return rate_limit_message()
        return super().get_invalid_login_error()
