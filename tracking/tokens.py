"""The API tokens page: a signed-in user's own tokens, issuing one, revoking one.

Only the user's own tokens exist here: someone else's id is a 404, staff included (staff
manage everyone's in the admin). Issuing answers with the secret on the page itself,
never through a redirect, so that it is never stored anywhere, not even for one request
in the session: only its hash is kept (ApiToken.issue). Every change is a POST behind
CSRF; revoking has a confirmation page first, as the experiment controls do.
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from tracking.models import ApiToken
from tracking.views import _query_page

TOKENS_PER_PAGE = 50
TOKEN_NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


class TokenForm(forms.Form):
    # CharField strips the name and refuses a NUL (which PostgreSQL cannot store).
    name = forms.CharField(
        label="Name",
        max_length=TOKEN_NAME_MAX_LENGTH,
        help_text="What it is for, e.g. the machine it lives on (gpu-box-1).",
    )


def _own_tokens(request):
    return ApiToken.objects.filter(user=request.user)


def _server_url(request):
    """This server's address as the browser reached it, for the snippet (no trailing /)."""
    return request.build_absolute_uri("/").rstrip("/")


@require_http_methods(["GET", "POST"])
def token_list(request):
    """Your tokens, newest first (name, created, last used, state; never a secret), and
    the form that issues one. Queries: a count and a page of tokens."""
    form = TokenForm(request.POST if request.method == "POST" else None)
    issued = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            token, secret = ApiToken.issue(request.user, form.cleaned_data["name"])
            issued = {"token": token, "secret": secret}
            form = TokenForm()
            status = 201
        else:
            status = 400
    tokens = _own_tokens(request).order_by("-created", "-pk")
    page = Paginator(tokens, TOKENS_PER_PAGE).get_page(_query_page(request))
    context = {
        "form": form,
        "issued": issued,
        "page": page,
        "tokens": page.object_list,
        "server_url": _server_url(request),
    }
    return render(request, "tracking/tokens.html", context, status=status)


@require_http_methods(["GET", "POST"])
def token_revoke(request, token_id):
    """GET: what revoking does, and the button; POST: revoke it (once; again is harmless)."""
    token = get_object_or_404(_own_tokens(request), pk=token_id)
    if request.method == "POST":
        was_active = token.revoked is None
        token.revoke()
        if was_active:
            messages.success(request, f"Token “{token.name}” is revoked: programs using it are refused from now on.")
        else:
            messages.info(request, f"Token “{token.name}” was already revoked.")
        return redirect("tracking:token-list")
    return render(request, "tracking/token_revoke.html", {"token": token})
