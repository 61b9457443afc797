"""aupsite: an experiment tracker and live dashboard for hyperparameter tuning."""

from pathlib import Path

# The one place the version is written: the package's metadata reads it (pyproject.toml,
# [tool.setuptools.dynamic]), the page footer and `aupsite --version` show it.
__version__ = "0.1.0"


def checkout_dir():
    """The project folder when aupsite runs from a checkout (manage.py beside the
    packages, installed editable or not at all), else None: installed from a wheel, the
    packages sit in site-packages, where nothing of the user's belongs."""
    folder = Path(__file__).resolve().parent.parent
    if (folder / "manage.py").is_file() and folder.name not in ("site-packages", "dist-packages"):
        return folder
    return None
