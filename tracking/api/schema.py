"""Shorthands for documenting endpoints in the OpenAPI schema (drf-spectacular).

Every response an endpoint can give is documented, errors included, so that the schema
is a contract a client (and the schemathesis fuzz run) can hold the API to.
"""

import functools
import inspect

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
    *,
    tags,
    ok=None,
    status=200,
    request=None,
    errors=(),
    params=(),
    write=False,
    operation_id=None,
    description=None,
):
    """Document an operation function: its request, its success response and every error it can give.

    The summary is the first line of the function's docstring and the description the rest
    of it (or `description`, for a text computed at import); the tags are its section's (see
    `section`). The URL's view (tracking.api.views.route) puts it in the schema, for the
    method it hands to the operation, with ``operation.extend_schema(methods=[method])``.
    """
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

    def decorate(operation):
        if not operation.__doc__:
            raise TypeError(f"{operation.__name__}: an operation's docstring is its summary in the schema")
        summary, _, rest = inspect.cleandoc(operation.__doc__).partition("\n")
        operation.extend_schema = functools.partial(
            extend_schema,
            summary=summary,
            # The docstring's lines wrap at the code's width; the schema's text is one paragraph.
            description=description or " ".join(rest.split()) or None,
            request=request,
            responses=responses,
            parameters=parameters,
            tags=tags,
            operation_id=operation_id,
        )
        return operation

    return decorate


def section(tag):
    """`documented` for the operations of one section of the API, each tagged `tag`."""
    return functools.partial(documented, tags=[tag])
