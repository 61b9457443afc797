"""API tokens: ``Authorization: Bearer <secret>`` (or ``Token <secret>``)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from tracking.models import ApiToken, hash_token_secret

KEYWORDS = ("bearer", "token")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate a request by one of its user's API tokens (tracking.models.ApiToken).

    A request without an Authorization header of ours is left to the next class (the
    session); a header of ours with a bad, revoked or foreign-looking secret fails at
    once, with the same message whatever was wrong, so that it tells an attacker nothing.
    Costs one query (token and user, joined), plus one UPDATE a minute for last_used.
    """

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() not in KEYWORDS:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header: give one token after the keyword."))
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        token = ApiToken.objects.usable().select_related("user").filter(secret_hash=hash_token_secret(secret)).first()
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token.touch()
        return token.user, token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the schema documents ApiTokenAuthentication."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API token (manage.py aup_token create, or POST /api/tokens/): Authorization: Bearer <token>."
            ),
        }
