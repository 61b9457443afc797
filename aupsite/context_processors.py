"""What every page's template may use besides the request and the user."""

import aupsite


def version(request):
    """The running version, for the page footer (templates/base.html)."""
    return {"aupsite_version": aupsite.__version__}
