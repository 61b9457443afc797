"""One error shape for the whole API, and the connector's errors mapped to statuses.

Every error body is ``{"detail": "<one readable sentence>", "errors": {"<field>": [...]}}``;
``errors`` names the fields of a 400 (nested fields as dotted paths, e.g.
``results.3.score``) and is empty otherwise. The connector's exceptions map to statuses
so that a client (tracking.client.RestConnector) raises the same exception again:
InvalidInputError -> 400, NotFoundError -> 404, BackendError -> 503.
"""

import logging

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import Error as DatabaseError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tracking.interface import BackendError, ConnectorClosedError, InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"


def flatten(detail, path=""):
    """DRF's nested error detail as {dotted path: [messages]}."""
    if isinstance(detail, dict):
        flat = {}
        for key, value in detail.items():
            flat.update(flatten(value, f"{path}.{key}" if path else str(key)))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {path or NON_FIELD: [str(item) for item in detail]} if detail else {}
        flat = {}
        for index, item in enumerate(detail):
            flat.update(flatten(item, f"{path}.{index}" if path else str(index)))
        return flat
    return {path or NON_FIELD: [str(detail)]}


def error_response(status_code, detail, errors=None, headers=None):
    return Response({"detail": detail, "errors": errors or {}}, status=status_code, headers=headers)


def summary(errors):
    return "; ".join(
        " ".join(messages) if field == NON_FIELD else f"{field}: {' '.join(messages)}"
        for field, messages in errors.items()
    )


def exception_handler(exc, context):
    if isinstance(exc, InvalidInputError):
        message = str(exc)
        return error_response(status.HTTP_400_BAD_REQUEST, message, {NON_FIELD: [message]})
    if isinstance(exc, NotFoundError):
        return error_response(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, (BackendError, ConnectorClosedError)):
        logger.warning("API: the connector failed: %s", exc)
        return error_response(status.HTTP_503_SERVICE_UNAVAILABLE, f"The server could not carry out the request: {exc}")
    if isinstance(exc, DatabaseError):
        logger.exception("API: the database failed")
        return error_response(status.HTTP_503_SERVICE_UNAVAILABLE, "The database is unavailable; try again later.")
    if isinstance(exc, SuspiciousOperation):
        # Django's limits on a request (too many query parameters, a body too large):
        # the client's to fix, and an HTML page would mean nothing to it.
        return error_response(status.HTTP_400_BAD_REQUEST, f"Bad request: {exc}")
    if isinstance(exc, Http404):
        return error_response(status.HTTP_404_NOT_FOUND, "Not found.")
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten(exc.detail)
        response.data = {"detail": summary(errors) or "Invalid input.", "errors": errors}
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        response.data = {"detail": str(detail), "errors": {}}
    return response
