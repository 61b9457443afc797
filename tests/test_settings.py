"""Settings come from the environment; these start real processes with chosen variables."""

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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
        ({"POSTGRES_PREPARED_STATEMENTS": "maybe"}, "POSTGRES_PREPARED_STATEMENTS='maybe' is not a boolean"),
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


@pytest.mark.parametrize("env, threshold", [({}, "5"), ({"POSTGRES_PREPARED_STATEMENTS": "0"}, "None")])
def test_it_prepares_the_hot_paths_on_postgresql_unless_told_not_to(env, threshold):
    result = manage("diffsettings", "--all", DATABASE_URL="postgres://aup@db.example.org/aupsite", **env)
    assert result.returncode == 0, result.stderr
    database = next(line for line in result.stdout.splitlines() if "DATABASES = " in line)
    assert f"'prepare_threshold': {threshold}" in database


def test_it_turns_on_every_safe_default_in_production():
    result = manage("diffsettings", "--all", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    lines = [line.removeprefix("### ").removesuffix("  ###") for line in result.stdout.splitlines()]
    for expected in [
        "SESSION_COOKIE_SECURE = True",
        "CSRF_COOKIE_SECURE = True",
        "SECURE_SSL_REDIRECT = True",
        "SECURE_HSTS_SECONDS = 31536000",
        "X_FRAME_OPTIONS = 'DENY'",
        "LOGIN_RATE_LIMIT_TRUST_X_FORWARDED_FOR = True",
        "AUTHENTICATION_BACKENDS = ['aupsite.security.RateLimitedModelBackend']",
    ]:
        assert expected in lines
    middleware = next(line for line in lines if line.startswith("MIDDLEWARE = "))
    assert "'aupsite.security.ContentSecurityPolicyMiddleware'" in middleware


@pytest.mark.parametrize(
    "env, message",
    [
        ({"LOGIN_FAILURE_LIMIT": "0"}, "LOGIN_FAILURE_LIMIT and LOGIN_FAILURE_WINDOW_SECONDS must be at least 1"),
        ({"LOGIN_FAILURE_WINDOW_SECONDS": "soon"}, "LOGIN_FAILURE_WINDOW_SECONDS='soon' is not an integer"),
    ],
)
def test_it_refuses_a_malformed_rate_limit(env, message):
    result = manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url, **headers):
    request = urllib.request.Request(url, headers={"Host": "aupsite.example.org", **headers})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_it_serves_production_with_gunicorn_through_make(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "DATABASE_URL", "MAKEFLAGS")}
    env.update(PRODUCTION, BIND=f"127.0.0.1:{port}", WORKERS="2", DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    log = open(tmp_path / "server.log", "w+")
    server = subprocess.Popen(
        ["make", "--no-print-directory", "run-production"],
        cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(240):  # up to 2 minutes: collectstatic compresses every file
            if server.poll() is not None:
                break
            try:
                status, headers, body = fetch(f"{url}/accounts/login/", **{"X-Forwarded-Proto": "https"})
                break
            except OSError:
                time.sleep(0.5)
        log.seek(0)
        output = log.read()
        assert server.poll() is None, output
        assert status == 200, output
        assert "gunicorn" in output.lower()
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert headers["X-Frame-Options"] == "DENY"
        assert "Secure" in headers["Set-Cookie"]
        # Static files from the collected, hashed copies.
        stylesheet = re.search(r'href="(/static/[^"]+\.css)"', fetch(f"{url}/admin/login/", **{"X-Forwarded-Proto": "https"})[2])
        assert stylesheet and re.search(r"\.[0-9a-f]{12}\.css$", stylesheet.group(1))
        assert fetch(url + stylesheet.group(1), **{"X-Forwarded-Proto": "https"})[0] == 200
        # Plain HTTP is sent to HTTPS; another host name is refused.
        status, headers, _ = fetch(f"{url}/accounts/login/")
        assert status == 301 and headers["Location"] == "https://aupsite.example.org/accounts/login/"
        assert fetch(f"{url}/accounts/login/", Host="evil.example", **{"X-Forwarded-Proto": "https"})[0] == 400
        # issue 14 (fastpath): gthread workers keep a client's connection for its next request.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        sockets = []
        for _ in range(3):
            headers = {"Host": "aupsite.example.org", "X-Forwarded-Proto": "https"}
            connection.request("GET", "/accounts/login/", headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 200 and not response.will_close
            sockets.append(connection.sock)
        assert sockets[0] is sockets[1] is sockets[2] is not None
        connection.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
