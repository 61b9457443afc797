"""Settings come from the environment; these start real processes with chosen variables."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "AUPSITE_ENV": "production",
    "SECRET_KEY": "x" * 30 + "-not-a-real-key-but-long-enough-" + "y" * 20,
    "ALLOWED_HOSTS": "aupsite.example.org",
}


def manage(*args, **env):
    clean = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "AUPSITE_ENV", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DATABASE_URL": "mysql://root@localhost/db"}, "DATABASE_URL must be sqlite:// or postgres://"),
        ({"SQLITE_SYNCHRONOUS": "OFF"}, "SQLITE_SYNCHRONOUS='OFF' must be one of NORMAL, FULL"),
        ({"SQLITE_BUSY_TIMEOUT_SECONDS": "soon"}, "SQLITE_BUSY_TIMEOUT_SECONDS='soon' is not an integer"),
        ({"AUPSITE_ENV": "staging"}, "AUPSITE_ENV='staging' must be one of local, production"),
        ({"AUPSITE_ENV": "production", "ALLOWED_HOSTS": "x.org"}, "SECRET_KEY must be set"),
        ({**PRODUCTION, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is set but empty"),
        ({**PRODUCTION, "DEBUG": "1"}, "DEBUG must be off"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 50 characters"),
    ],
)
def test_it_refuses_to_start_with_a_malformed_setting(env, message):
    result = manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_it_passes_the_deployment_checklist_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_it_runs_locally_with_no_variables_set():
    result = manage("diffsettings", "--all")
    assert result.returncode == 0, result.stderr
    # diffsettings marks Django's defaults with "###"; the values are what count here.
    lines = [line.removeprefix("### ").removesuffix("  ###") for line in result.stdout.splitlines()]
    assert "DEBUG = False" in lines
    assert "ALLOWED_HOSTS = ['127.0.0.1', 'localhost', '[::1]']" in lines
    assert "SECURE_SSL_REDIRECT = False" in lines
    assert "SESSION_COOKIE_SECURE = False" in lines
    database = next(line for line in lines if line.startswith("DATABASES = "))
    assert "'ENGINE': 'django.db.backends.sqlite3'" in database
    assert f"'NAME': '{PROJECT_DIR / 'db.sqlite3'}'" in database
