"""Shorthands for documenting endpoints in the OpenAPI schema (drf-spectacular).

Every response an endpoint can give is documented, errors included, so that the schema
is a contract a client (and the schemathesis fuzz run) can hold the API to.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from tracking.api.serializers import ErrorOut

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=r"^[A-Za-z0-9._:-]{1,100}$",
    description=(
        "A fresh random key (a UUID) per write, the same on each retry of it: a retried write is "
        "carried out once, and the retry gets the first response (marked Idempotent-Replayed: true)."
    ),
)
CONNECTOR_ID = OpenApiParameter(
    "Aup-Connector-Id",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    pattern=r"^[0-9a-f]{32}$",
    description=(
        "The calling connector instance (32 hex digits, e.g. a uuid4's hex): free-all frees only "
        "the resources taken with the same id. Without it, the token is the holder."
    ),
)

ERRORS = {
    400: "Bad input: nothing was written. `errors` names the fields at fault.",
    401: "No credentials, or a bad or revoked token.",
    403: (
        "Signed in, but not allowed: staff only; an experiment shared with you read-only; "
        "a session's write without its CSRF token."
    ),
    404: "No such object, or not yours: the two are not told apart.",
    422: "This Idempotency-Key was already used for another request.",
    503: "The database failed or is busy; nothing was written. Try again.",
}


def documented(
    summary,
    *,
    ok=None,
    status=200,
    request=None,
    errors=(),
    params=(),
    write=False,
    methods=None,
    tags=None,
    description=None,
    operation_id=None,
):
    """extend_schema for one operation: its success response and every error it can give."""
    codes = {401, 403, 503, *errors}
    parameters = list(params)
    if write:
        codes |= {400, 422}
        parameters.insert(0, IDEMPOTENCY_KEY)
    if request is not None:
        codes.add(400)
    responses = {status: ok if ok is not None else OpenApiResponse(description="Done; no content.")}
    for code in sorted(codes):
        responses[code] = OpenApiResponse(ErrorOut, description=ERRORS[code])
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses=responses,
        parameters=parameters,
        methods=methods,
        tags=tags,
        operation_id=operation_id,
    )
