"""API tokens: ``Authorization: Bearer <secret>`` (or ``Token <secret>``)."""

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from tracking.api import prepared
from tracking.models import ApiToken, hash_token_secret


def _columns(model):
    return [field.attname for field in model._meta.concrete_fields]


# The token and its user in one query, compiled once (tracking/api/prepared.py): its
# rule is ApiToken.objects.usable()'s, and nothing is cached between requests, so a
# token revoked (or a user deactivated) is refused from the next request on.
_USABLE_TOKEN = prepared.Prepared(
    lambda secret_hash: ApiToken.objects.usable()
    .filter(secret_hash=secret_hash)
    .order_by()
    .values_list(*_columns(ApiToken), *(f"user__{name}" for name in _columns(get_user_model())))[:1],
    prepared.text(),
)


def usable_token(secret):
    """The usable token (ApiToken.objects.usable()) whose secret is `secret`, its user
    loaded (token.user), or None. One query."""
    rows = _USABLE_TOKEN.rows(hash_token_secret(secret))
    if not rows:
        return None
    columns = _columns(ApiToken)
    token = ApiToken.from_db(DEFAULT_DB_ALIAS, columns, rows[0][: len(columns)])
    token.user = get_user_model().from_db(DEFAULT_DB_ALIAS, _columns(get_user_model()), rows[0][len(columns) :])
    return token

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
        token = usable_token(secret)
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
