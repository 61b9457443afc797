"""`make install`'s editable install of the project: quiet, and enough for an executor."""

import os
import shutil
import subprocess
import sys

from tests.test_connector_concurrency import PROJECT_DIR


def test_it_installs_editable_without_a_warning_and_imports_from_any_folder(tmp_path):
    # A copy of what the build reads, installed into a fresh virtualenv by the project's
    # own pip (the one `make install` upgrades to, which shows the build backend's
    # warnings) exactly as the Makefile does.
    project = tmp_path / "aupsite"
    project.mkdir()
    # pyproject.toml reads the README and the requirements files (the metadata's lists).
    for name in ("pyproject.toml", "MANIFEST.in", "README.md", "requirements.txt", "requirements-auptimizer.txt",
                 "requirements-postgres.txt"):
        shutil.copy(PROJECT_DIR / name, project)
    for package in ("aupsite", "tracking"):
        shutil.copytree(PROJECT_DIR / package, project / package, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "-e", str(project)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr
    # The machine's own pip configuration may add notes of its own; none from the build.
    build_output = [line for line in (result.stdout + result.stderr).splitlines() if "Location 'file:" not in line]
    assert build_output == []

    # The installed project resolves from an unrelated folder (the connector's module
    # itself, not imported: Django is not installed in this virtualenv).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = "import importlib.util as u; print(u.find_spec('tracking.connector').origin)"
    found = subprocess.run([str(python), "-c", script], cwd=elsewhere, capture_output=True, text=True, timeout=60)
    assert found.stdout.strip() == str(project / "tracking" / "connector.py"), found.stderr
