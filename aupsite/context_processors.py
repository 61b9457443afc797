"""What every page's template may use besides the request and the user."""

import shlex

from django.conf import settings

import aupsite


def version(request):
    """The running version, for the page footer (aupsite/templates/base.html)."""
    return {"aupsite_version": aupsite.__version__}


def commands(request):
    """The commands the pages suggest (the first steps of an empty list, the login
    page's reminder), in the words of how this aupsite runs: a checkout's `make run` and
    manage.py, or an installed package's `aupsite` command. An installed aupsite serving
    another data folder than the per-user default names it, so that the command works
    on the same database; never a DATABASE_URL (it may hold a password)."""
    if aupsite.checkout_dir() is not None:
        manage = ".venv/bin/python manage.py"
        return {"aupsite_commands": {
            "serve": "make run",
            "setup": f"{manage} aup_setup",
            "changepassword": f"{manage} changepassword",
            "example": ".venv/bin/python examples/random_search.py",
        }}
    command = "aupsite"
    user = getattr(request, "user", None)
    if not settings.DATA_DIR_IS_DEFAULT and user is not None and user.is_authenticated:
        command += f" --data-dir {shlex.quote(str(settings.DATA_DIR))}"
    return {"aupsite_commands": {
        "serve": "aupsite serve",
        "setup": f"{command} setup",
        "changepassword": f"{command} manage changepassword",
        # The example scripts stay in the repository; an installed aupsite runs
        # Auptimizer's experiments (the extra aupsite[auptimizer]) or the user's own loop.
        "example": None,
        "run": f"{command} run experiment.json",
    }}
