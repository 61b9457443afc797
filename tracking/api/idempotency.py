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

A key is kept for IdempotencyKey.EXPIRES_AFTER; a key older than that is never replayed.
Expired keys are deleted by each server process at most once every PURGE_EVERY seconds,
in the transaction of a keyed write (a DELETE on every write cost a statement and the
time to find nothing), and an expired key that comes again is deleted then.
"""

import functools
import hashlib
import json
import re
import time

from django.db import transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from tracking.api import prepared
from tracking.api.errors import error_response, exception_handler
from tracking.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
PURGE_EVERY = 600  # seconds
_next_purge = 0.0  # this process's, on time.monotonic()'s clock: the first keyed write purges

_COLUMNS = [field.attname for field in IdempotencyKey._meta.concrete_fields]
_STORED = prepared.Prepared(
    lambda user_id, key: IdempotencyKey.objects.filter(user_id=user_id, key=key).order_by().values_list(*_COLUMNS)[:1],
    prepared.number(),
    prepared.text(),
)


def stored_key(user, key):
    """`user`'s IdempotencyKey `key`, or None; one query (compiled once, see prepared)."""
    rows = _STORED.rows(user.pk, key)
    return IdempotencyKey.from_db("default", _COLUMNS, rows[0]) if rows else None


def purge_due():
    """True once every PURGE_EVERY seconds in this process (and at its first call)."""
    global _next_purge
    now = time.monotonic()
    if now < _next_purge:
        return False
    _next_purge = now + PURGE_EVERY
    return True


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

    Without the header, and for reads, the view runs as it is. Costs one query on top of
    the view's (the lookup), and one INSERT when the write is new; now and then (see
    purge_due) one DELETE of expired keys.
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
        try:
            with transaction.atomic():
                expired = timezone.now() - IdempotencyKey.EXPIRES_AFTER
                if purge_due():
                    IdempotencyKey.objects.filter(created__lt=expired).delete()
                stored = stored_key(request.user, key)
                if stored is not None and stored.created < expired:
                    stored.delete()  # not purged yet, and forgotten all the same
                elif stored is not None:
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
                # One INSERT, without the ORM's compiling; a copy that finds the key taken
                # lost the race (see prepared.insert).
                stored = IdempotencyKey(
                    user_id=request.user.pk,
                    key=key,
                    request_hash=digest,
                    status_code=response.status_code,
                    response=body,
                )
                if not prepared.insert(stored):
                    raise _LostRace
                return response
        except _Discard as discard:
            return discard.response
        except _LostRace:
            return replay(IdempotencyKey.objects.get(user=request.user, key=key), digest)

    return wrapper
