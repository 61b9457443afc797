"""Idempotency keys: a write sent twice (a client retrying after a lost response) is
carried out once, and the second copy gets the first copy's response.

A client puts a fresh random ``Idempotency-Key`` header on each write and the same one
on every retry of that write. The server stores the key, a hash of the request and the
response in the write's own transaction: the key exists exactly when the write was
committed. A retry finds it and gets the stored response (with ``Idempotent-Replayed:
true``). Two copies racing each other (PostgreSQL) meet on the key's unique constraint:
the loser's transaction, its write included, is rolled back and it answers with the
winner's response. SQLite serialises writers, so there they never race.

5xx responses are not stored: their transaction is rolled back, nothing was written,
and the retry should really try again.
"""

import functools
import hashlib
import json
import re

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from tracking.api.errors import error_response, exception_handler
from tracking.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class _Discard(Exception):
    """Roll the transaction back and answer with this response."""

    def __init__(self, response):
        self.response = response


class _LostRace(Exception):
    """Another copy of this write committed first."""


def request_hash(request):
    # The parsed body (the raw one is gone once DRF has read it); a body that failed to
    # parse reads as empty, and its retry fails to parse again.
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode("utf-8", "surrogatepass")).hexdigest()


def replay(stored, request_digest):
    if stored.request_hash != request_digest:
        return error_response(
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            f"{HEADER} {stored.key!r} was used for another request; use a new key for each write.",
        )
    return Response(stored.response, status=stored.status_code, headers={"Idempotent-Replayed": "true"})


def idempotent(view):
    """Make a write view replay its stored response when its Idempotency-Key comes again.

    Without the header, and for reads, the view runs as it is. Costs two queries on top of the view's
    (purge of expired keys, lookup) and one INSERT when the write is new.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or request.method in SAFE_METHODS:
            return view(request, *args, **kwargs)
        if not KEY_PATTERN.match(key):
            return error_response(
                status.HTTP_400_BAD_REQUEST,
                f"{HEADER} must be 1 to 100 letters, digits or ._:- characters (a UUID is best).",
                {HEADER: ["1 to 100 letters, digits or ._:- characters."]},
            )
        keys = IdempotencyKey.objects.filter(user=request.user)
        try:
            with transaction.atomic():
                IdempotencyKey.objects.filter(created__lt=timezone.now() - IdempotencyKey.EXPIRES_AFTER).delete()
                stored = keys.filter(key=key).first()
                if stored is not None:
                    return replay(stored, request_hash(request))
                try:
                    response = view(request, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - handled as DRF would, so it can be stored
                    response = exception_handler(exc, {"request": request})
                    if response is None:
                        raise
                if response.status_code >= 500:
                    raise _Discard(response)
                body = None if response.data is None else json.loads(JSONRenderer().render(response.data))
                digest = request_hash(request)
                try:
                    with transaction.atomic():
                        IdempotencyKey.objects.create(
                            user=request.user,
                            key=key,
                            request_hash=digest,
                            status_code=response.status_code,
                            response=body,
                        )
                except IntegrityError:
                    raise _LostRace from None
                return response
        except _Discard as discard:
            return discard.response
        except _LostRace:
            return replay(keys.get(key=key), digest)

    return wrapper
