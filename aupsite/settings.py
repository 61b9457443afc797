"""aupsite settings: one file, driven by environment variables.

With no variable set, aupsite runs in local mode: plain HTTP on 127.0.0.1, an SQLite
file in the project folder, static files served by the app itself. Setting
AUPSITE_ENV=production switches on the hardening that a shared server needs and
requires SECRET_KEY and ALLOWED_HOSTS to be given. A malformed value stops the
process at start with a message naming the variable.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name, default=None):
    return os.environ.get(name, default)


def env_bool(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off")


def env_int(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name, default):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise ImproperlyConfigured(f"{name} is set but empty; give a comma-separated list")
    return items


def env_choice(name, default, choices):
    value = os.environ.get(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


AUPSITE_ENV = env_choice("AUPSITE_ENV", "local", ("local", "production"))
PRODUCTION = AUPSITE_ENV == "production"

DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when AUPSITE_ENV=production")


def _local_secret_key():
    # Local mode needs no configuration, yet a key in the repository would be a key
    # known to everyone: make one per checkout and keep it beside the database.
    path = BASE_DIR / ".secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(50)
        path.write_text(key)
        path.chmod(0o600)
        return key


SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when AUPSITE_ENV=production")
    SECRET_KEY = _local_secret_key()
elif len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long")

if PRODUCTION and "ALLOWED_HOSTS" not in os.environ:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when AUPSITE_ENV=production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tracking",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # First after SecurityMiddleware, so that every response gets the policy,
    # static files served by WhiteNoise included.
    "aupsite.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "aupsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "aupsite.wsgi.application"
ASGI_APPLICATION = "aupsite.asgi.application"

# Database -------------------------------------------------------------------------
# SQLITE_SYNCHRONOUS: NORMAL (default) keeps every committed row across a crash of any
# process; FULL also keeps the last commits across a power loss, at one fsync per
# commit. The README's Performance section shows what each costs.
SQLITE_SYNCHRONOUS = env_choice("SQLITE_SYNCHRONOUS", "NORMAL", ("NORMAL", "FULL"))
SQLITE_BUSY_TIMEOUT_SECONDS = env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 60)
# POSTGRES_PREPARED_STATEMENTS: the executor's hot paths are prepared once per
# connection (tracking.connector._execute_on_driver). Turn it off behind a pooler that
# cannot keep prepared statements (pgbouncer before 1.21 in transaction mode).
POSTGRES_PREPARED_STATEMENTS = env_bool("POSTGRES_PREPARED_STATEMENTS", True)

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
try:
    _database = dj_database_url.parse(DATABASE_URL)
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
if _database["ENGINE"] == "django.db.backends.sqlite3":
    _database["OPTIONS"] = {
        # Many executors write to one file: WAL lets readers and one writer work at
        # once, the busy timeout makes a writer wait for the lock instead of failing,
        # and IMMEDIATE transactions take the write lock at BEGIN, so a transaction
        # never has to upgrade a read lock (the upgrade fails at once with "database
        # is locked", whatever the timeout).
        "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            f"PRAGMA synchronous={SQLITE_SYNCHRONOUS};"
            # The writer that commits past this many WAL pages copies them into the
            # database file and syncs the disk, inside its own call. An executor's job
            # writes about 850 pages, so SQLite's default (1000 pages) put that pause in
            # almost every job; at 4000 (16 MB of WAL) the write path is about a fifth
            # faster (make bench, row 1) and readers still search the WAL quickly.
            "PRAGMA wal_autocheckpoint=4000;"
        ),
    }
    # Tests that spawn writer processes need a database file they can all open.
    _database["TEST"] = {"NAME": str(BASE_DIR / "db-test.sqlite3")}
    # issue 14 (fastpath): a server thread keeps its connection across requests. Opening
    # one costs its PRAGMAs, and closing the last one checkpoints and deletes the WAL, so
    # a connection per request made the next commit recreate the WAL file: together about
    # half of an API write's time (bench/request_profile.py).
    _database["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
elif _database["ENGINE"] == "django.db.backends.postgresql":
    _database["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
    _database["CONN_HEALTH_CHECKS"] = True
    # Django turns psycopg's prepared statements off (None). Django's own queries are
    # never prepared either way (they bind client-side); only the statements that ask
    # for it, the connector's hot paths, are.
    _database.setdefault("OPTIONS", {})["prepare_threshold"] = 5 if POSTGRES_PREPARED_STATEMENTS else None
else:
    raise ImproperlyConfigured(f"DATABASE_URL must be sqlite:// or postgres://, not {_database['ENGINE']}")
DATABASES = {"default": _database}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache -----------------------------------------------------------------------------
# In the database, so that every server process (gunicorn workers) shares one count of
# failed logins; the table is made by `manage.py createcachetable` (make run does it).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "aupsite_cache",
    }
}

# Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# RateLimitedModelBackend: Django's own, refusing a user name and address pair after
# LOGIN_FAILURE_LIMIT failed logins within LOGIN_FAILURE_WINDOW_SECONDS (see aupsite/security.py).
AUTHENTICATION_BACKENDS = ["aupsite.security.RateLimitedModelBackend"]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
if LOGIN_FAILURE_LIMIT < 1 or LOGIN_FAILURE_WINDOW_SECONDS < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_FAILURE_WINDOW_SECONDS must be at least 1")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Internationalisation -----------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
if PRODUCTION:
    STATIC_ROOT = BASE_DIR / "staticfiles"  # filled by collectstatic (make run-production)
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
else:
    # Local mode serves straight from static/, no collectstatic step (and no
    # STATIC_ROOT, which WhiteNoise would warn about while it does not exist).
    STATIC_ROOT = None
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = DEBUG

# Security -----------------------------------------------------------------------------
# Besides these, every response carries a strict Content-Security-Policy
# (aupsite.security.ContentSecurityPolicyMiddleware), in local mode too.
X_FRAME_OPTIONS = "DENY"
LOGIN_RATE_LIMIT_TRUST_X_FORWARDED_FOR = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    if env_bool("BEHIND_TLS_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        # The proxy appends the client's address to X-Forwarded-For; the login rate
        # limit counts per client address, not per proxy.
        LOGIN_RATE_LIMIT_TRUST_X_FORWARDED_FOR = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# REST API (tracking/api) -----------------------------------------------------------------
# Tokens for programs (executors, scripts), the session for a signed-in browser (the docs
# page), which DRF holds to CSRF on every unsafe request. Every endpoint needs a user.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that an anonymous request gets 401 with a WWW-Authenticate header.
        "tracking.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: DRF's browsable pages carry inline styles that our Content Security
    # Policy forbids; /api/docs/ (Swagger UI) is the page to browse and try the API.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tracking.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "tracking.api.errors.exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "tracking.api.negotiation.JSONUnlessAskedOtherwise",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "aupsite API",
    "DESCRIPTION": (
        "Experiments, jobs, attempts, resources and results of aupsite, to read and to write. "
        "Every write of tracking.interface.AbstractConnector has an endpoint here; "
        "tracking.client.RestConnector speaks this API."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Path ids (tracking.api.urls.IdConverter) are 64-bit integers.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "format": "int64"}},
    "ENUM_NAME_OVERRIDES": {
        "ExperimentStatusEnum": "tracking.interface.EXPERIMENT_STATUSES",
        "JobStatusEnum": "tracking.interface.JOB_STATUSES",
        "NewExperimentStatusEnum": ["RUNNING", "CREATED"],
    },
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files come from the drf-spectacular-sidecar package, served by us; its
    # page shows our own favicon (templates/api/docs.html).
    "SWAGGER_UI_DIST": "SIDECAR",
    # No deep links: Swagger UI draws each one inside its operation's summary button, a
    # link nested in a button that keyboards and screen readers cannot reach on its own
    # (axe-core's nested-interactive, tests/e2e/test_accessibility.py).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "persistAuthorization": False},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))},
}
