"""RestConnector: the connector interface over aupsite's REST API, for executors that
cannot reach the dashboard's database (a GPU machine elsewhere, a laptop)::

    from tracking.client import RestConnector
    connector = RestConnector("https://aupsite.example.org", token)   # instead of DjangoConnector()

It takes the same calls, returns the same values and raises the same exceptions as
tracking.connector.DjangoConnector (the server runs that connector for each call). It
needs only the Python standard library, and of aupsite only this module,
tracking/interface.py and tracking/scores.py: no Django.

Each thread keeps one connection to the server open between its calls (HTTP/1.1
keep-alive, over http.client), so that a call costs one request, not a new TCP (and TLS)
connection too. A connection the server has closed meanwhile (its keep-alive timeout, a
restart) is replaced before use; a request that meets one closing under it is sent once
more at once on a new connection, which its Idempotency-Key makes safe for a write.
Proxies named by http_proxy, https_proxy and no_proxy are used, as urllib uses them.

Failures are never silent. A connection error, a timeout or a 502/503/504 is retried,
with exponential backoff, a bounded number of times; then the call raises BackendError
naming the URL and the cause. Retrying a write never writes twice: each write carries an
``Idempotency-Key`` made once per call, and the server answers a retry of a write it has
already carried out with the response it gave the first time. A refusal (any other 4xx)
is never retried, even when it comes before the whole body was sent: the client stops
sending and reads it.

Every request fits what a server takes: its request line (method, URL, HTTP version) at
most REQUEST_LINE_BUDGET bytes, its body at most MAX_BODY_BYTES (the server's
DATA_UPLOAD_MAX_MEMORY_SIZE). Long id lists are split over several requests
(get_intermediate_results_jobs) or sent in a body (get_available_resource's blacklist), a
batch of results over several bodies; a single argument too large for either limit is
refused with InvalidInputError before anything is sent.

A training loop that reports every step can leave the network to a background thread:
``RestConnector(url, token, buffered=True)`` queues the result writes and sends them in
batches, exactly once and in order (tracking/buffering.py, which a remote machine then
needs beside this module; see RestConnector).

For scripts that analyse rather than record, ``read_jobs(eid)`` and ``read_experiments()``
(and the function ``read_jobs(base_url, token, eid)``) give the dashboard's jobs table and
experiments list, every row, as a pandas DataFrame when pandas is installed (it is
imported only then: not a requirement), else as a list of dicts::

    jobs = RestConnector("https://aupsite.example.org", token).read_jobs(12, sort="-score")

Values on the wire: ids and counts are JSON integers; a score is a JSON number, a text, or
null, with NaN and the infinities as the texts 'nan', 'inf' and '-inf' (tracking.scores'
to_wire and from_wire, which the API uses too). A text that Python reads as a number is
stored as that number by both connectors, so this loses nothing.
"""

import functools
import http.client
import json
import math
import os
import random
import select
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from http.client import HTTPException
from urllib.parse import unquote, urlencode, urljoin, urlsplit
from urllib.request import getproxies, proxy_bypass

from tracking.interface import BackendError, ConnectorClosedError, ConnectorError, InvalidInputError, NotFoundError
from tracking.interface import ID_RANGE, AbstractConnector, parse_experiment_call
from tracking.interface import check_experiment_status, check_job_status, check_text
from tracking.interface import check_labels, check_num_labels, check_scores
from tracking.interface import check_resource_query, check_results_query, lookup_ids
from tracking.interface import check_id as _id
from tracking.interface import check_job_config as _job_config
from tracking.interface import lookup_id as _lookup_id
from tracking.scores import ScoreTypeError, from_wire, to_wire

TOKEN_VARIABLE = "AUPSITE_TOKEN"
# Answers of a proxy or a server that is restarting or overloaded: worth another try.
RETRY_STATUSES = (502, 503, 504)
# The longest request line sent (b"GET /api/...?jid=1&jid=2 HTTP/1.1", the whole URL
# counted, as a request line to a proxy carries it): about half of gunicorn's limit (4,094 bytes,
# the smallest of the servers and proxies aupsite runs behind; a longer line gets 414),
# so that a proxy that lengthens the URL on its way still passes it.
REQUEST_LINE_BUDGET = 2048
# The largest body sent: the server's DATA_UPLOAD_MAX_MEMORY_SIZE (Django's default, 2.5
# MiB), beyond which it answers 400 without reading the body.
MAX_BODY_BYTES = 2_621_440
# The server takes at most this many job ids per request (GET /api/intermediate-results/;
# Django reads at most 1,000 query parameters); fewer fit REQUEST_LINE_BUDGET anyway.
JIDS_PER_REQUEST = 500
# Query room a page's cursor takes in a read that follows pages: &after_jid=N&after_step=M.
CURSOR_ROOM = len(f"&after_jid={-(2**63)}&after_step={-(2**63)}")
BATCH_SIZE = 1000


class AccessDeniedError(ConnectorError, PermissionError):
    """The server refused: the token is unknown or revoked (HTTP 401), or its user may
    not do this (403: an experiment shared with them read-only, a staff-only change)."""


# -- the transport (issue 14, fastpath): persistent connections ---------------------------------


class _ReadsEarlyAnswers:
    """An HTTP connection that reads the server's answer when the server stops reading the
    body before it has all of it (a 400 for a body over its limit, a 401, a proxy's 413):
    the answer is there, ahead of the broken pipe that sending more ends in."""

    _send_error = None

    def putrequest(self, *args, **kwargs):
        self._send_error = None  # a new request on a kept connection starts afresh
        super().putrequest(*args, **kwargs)

    def send(self, data):
        if self._send_error is not None:
            return  # the server is no longer reading: the rest of the body goes nowhere
        if self.sock is None:
            self.connect()  # failing to connect is no answer: raised as it is
        try:
            super().send(data)
        except ConnectionError as error:  # BrokenPipeError, ConnectionResetError
            self._send_error = error

    def getresponse(self):
        try:
            return super().getresponse()
        except (OSError, HTTPException):
            if self._send_error is None:
                raise
            raise self._send_error from None  # no answer after all: the connection broke


class _HTTPConnection(_ReadsEarlyAnswers, http.client.HTTPConnection):
    pass


_CONNECTION_CLASSES = {"http": _HTTPConnection}
if hasattr(http.client, "HTTPSConnection"):  # a Python built without ssl has none

    class _HTTPSConnection(_ReadsEarlyAnswers, http.client.HTTPSConnection):
        pass

    _CONNECTION_CLASSES["https"] = _HTTPSConnection


class _Route:
    """How requests reach the API: the connection class and address to connect to, the
    request target's prefix (a path, or the whole URL through a plain-HTTP proxy), and a
    tunnel through a proxy for https. Proxies come from the environment (http_proxy,
    https_proxy, no_proxy), as urllib would take them."""

    def __init__(self, api_url):
        parts = urlsplit(api_url)
        if parts.scheme not in _CONNECTION_CLASSES:
            raise InvalidInputError(f"this Python has no ssl module: it cannot reach {api_url}")
        self.connection_class = _CONNECTION_CLASSES[parts.scheme]
        self.host, self.port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path  # the path of the API, ending in /
        self.tunnel = None
        self.headers = {}
        proxy = getproxies().get(parts.scheme)
        if proxy and not proxy_bypass(parts.hostname):
            proxy = urlsplit(proxy if "://" in proxy else "http://" + proxy)
            if proxy.username is not None:
                credentials = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
                import base64  # noqa: PLC0415 - only behind a proxy that asks for a password

                self.headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
            if parts.scheme == "https":
                # CONNECT through the proxy; TLS runs end to end inside the tunnel.
                self.tunnel = (self.host, self.port, self.headers)
                self.headers = {}
            else:
                # A plain-HTTP proxy takes the whole URL in the request line.
                self.prefix = f"http://{parts.netloc.rpartition('@')[2]}{parts.path}"
            self.host, self.port = proxy.hostname, proxy.port or 80

    def connect(self, timeout):
        """A new connection (it opens on its first request)."""
        connection = self.connection_class(self.host, self.port, timeout=timeout)
        if self.tunnel is not None:
            host, port, headers = self.tunnel
            connection.set_tunnel(host, port, headers=headers)
        connection.aup_pid = os.getpid()
        return connection


def _dropped(sock):
    """Whether the server has closed an idle kept connection (or sent what no request
    asked for): either way it is readable, and no good for the next request."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


# -- end of the transport


def _method(allowed_when_closed=False, flushes=True):
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if self._closed and not allowed_when_closed:
                raise ConnectorClosedError(f"{method.__name__}: this connector has been closed")
            if flushes and self._buffer is not None and not self._closed:
                # Buffered client (issue 14, part 2): every call but the buffered writes
                # waits until the results written before it are on the server.
                self._buffer.flush()
            return method(self, *args, **kwargs)

        return wrapper

    return decorate


# -- argument checks: DjangoConnector's (tracking.interface, tracking.scores), made before anything is sent


def _wire_score(value, method):
    """A score as JSON carries it (tracking.scores.to_wire), checked as DjangoConnector checks it."""
    try:
        return to_wire(value)
    except ScoreTypeError as exc:
        raise InvalidInputError(f"{method}: {exc}") from None


# -- the buffered client's hot path (issue 14, part 2): the same checks, with the common
# case first (an int id, a finite float, the labels of the previous step), because a buffered
# write must cost the training loop only a few microseconds. Anything else takes the
# general checks above, and so gets their errors.

_ID_LOW, _ID_HIGH = ID_RANGE[0], ID_RANGE[-1]


def _quick_id(value, what, allow_none=False):
    if type(value) is int and _ID_LOW <= value <= _ID_HIGH:
        return value
    return _id(value, what, allow_none=allow_none)


def _quick_score(value, method):
    if type(value) is float and math.isfinite(value):
        return value
    return _wire_score(value, method)


# -- end of the buffered client's hot path


class RestConnector(AbstractConnector):
    """The connector interface over HTTP; see tracking.interface for each method's contract.

    - ``base_url``: the site's address (``https://aupsite.example.org``); the API is under
      its ``/api/``.
    - ``token``: an API token (``manage.py aup_token create``); by default the
      AUPSITE_TOKEN environment variable.
    - ``timeout``: seconds to wait for one answer; ``retries``: how many times a call is
      tried again after a connection error, a timeout or a 502/503/504, waiting
      ``backoff`` seconds, then twice as long each time, at most ``max_backoff``.

    Differences that follow from talking to a server: the token's user sees only their own
    experiments (staff see all), so ``get_all_experiment()`` without a user name lists the
    token user's experiments, and a user name other than the token's is an unknown user
    unless the token is a staff member's. Resources are shared: any token may take and
    free them. Thread-safe: each thread has its own connection to the server, kept open
    between calls (HTTP keep-alive) and reopened when the server has closed it.

    Buffered (``buffered=True``; tracking/buffering.py says it all): the result writes
    (save_intermediate_result, save_multiple_results, save_intermediate_results) return at
    once, and a background thread sends them in batches, in order, exactly once, every
    ``flush_interval`` seconds or ``flush_size`` results, whichever first. Every other call
    first waits until they are on the server (``flush()`` does only that), as do
    ``close()`` and interpreter exit. An outage holds at most ``max_buffered`` results, then
    blocks the writer. Results the server refuses are raised (ResultsRefusedError) by the
    next call. A crash of the process loses at most the last flush interval's results.
    """

    _buffer = None  # the buffered client's queue (tracking.buffering.ResultBuffer), if buffered

    def __init__(
        self,
        base_url,
        token=None,
        *,
        timeout=30.0,
        retries=6,
        backoff=0.5,
        max_backoff=8.0,
        buffered=False,
        flush_interval=0.5,
        flush_size=500,
        max_buffered=100_000,
    ):
        token = token if token is not None else os.environ.get(TOKEN_VARIABLE)
        if not token or not isinstance(token, str):
            raise InvalidInputError(f"give an API token, or set {TOKEN_VARIABLE}")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInputError(f"base_url must be an http:// or https:// address, not {base_url!r}")
        root = base_url.rstrip("/")
        self.api_url = root + "/" if root.endswith("/api") else root + "/api/"
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        # Names this instance to the server, which records it as the holder of the
        # resources it takes, so that free_all_resources frees only those.
        self.connector_id = uuid.uuid4().hex
        self._token = token
        # -- the transport (issue 14, fastpath): a connection per thread, kept between calls;
        # all of them known (weakly: a thread's goes with it) so that close() closes them.
        self._route = _Route(self.api_url)
        self._local = threading.local()
        self._connections = weakref.WeakSet()
        self._connections_lock = threading.Lock()
        # -- end of the transport
        self._closed = False
        if buffered:
            self._buffer = _make_buffer(self, root, flush_interval, flush_size, max_buffered)

    def __repr__(self):
        return f"<RestConnector {self.api_url}{' closed' if self._closed else ''}>"

    # -- HTTP ----------------------------------------------------------------------------------

    def _call(self, method, path, body=None, query=None, write=None):
        """Send one request, retrying as the class says; return the decoded JSON body (or None).

        A request over REQUEST_LINE_BUDGET or MAX_BODY_BYTES is InvalidInputError, and
        nothing is sent. Every method but GET is a write (it carries an Idempotency-Key)
        unless `write` is False: a read whose arguments go in a body.
        """
        target = self._route.prefix + path  # what the request line carries
        url = self.api_url + path
        if query:
            query = "?" + urlencode(query, doseq=True)
            target, url = target + query, url + query
        length = _request_line_length(method, url)
        if length > REQUEST_LINE_BUDGET:
            raise InvalidInputError(
                f"{method} {self.api_url}{path}: an argument is too long to send in a URL (a request line of "
                f"{length:,} bytes; at most {REQUEST_LINE_BUDGET:,})"
            )
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "Aup-Connector-Id": self.connector_id,
            "User-Agent": "aupsite-RestConnector/1",
        }
        data = None
        if body is not None:
            data = _encode(body)
            if len(data) > MAX_BODY_BYTES:
                raise InvalidInputError(
                    f"{method} {url}: too large to send: a body of {len(data):,} bytes, and the server takes at most "
                    f"{MAX_BODY_BYTES:,}"
                )
            headers["Content-Type"] = "application/json"
        if write is None:
            write = method != "GET"
        if write:
            # One key for every try of this write: the server carries it out once.
            headers["Idempotency-Key"] = uuid.uuid4().hex
        delay = self.backoff
        for attempt in range(1, self.retries + 2):
            try:
                status, reason, location, raw = self._exchange(method, target, data, headers)
            except (OSError, HTTPException) as error:  # refused, reset, timed out, name or TLS failure
                if attempt > self.retries:
                    raise BackendError(
                        f"{method} {url}: no answer after {attempt} attempts ({type(error).__name__}: {error})"
                    ) from error
            else:
                if 200 <= status < 300:
                    return _decode(raw)
                if 300 <= status < 400:
                    # Never followed: a redirect would turn a POST into a GET and lose the write.
                    where = f"redirected to {urljoin(url, location)}; use that address as base_url"
                    raise BackendError(f"{method} {url}: {where if location else f'HTTP {status} {reason}'}")
                payload = _decode_error(reason, raw)
                if status not in RETRY_STATUSES or attempt > self.retries:
                    raise _error(method, url, status, payload, attempt) from None
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")

    def _connection(self):
        """This thread's connection, and whether it is a kept one (it has served a request).

        A kept connection the server has closed since (its keep-alive timeout, a restart)
        is replaced before use. A connection inherited through fork() is never used: the
        parent's requests go on it too.
        """
        connection = getattr(self._local, "connection", None)
        if connection is None or connection.aup_pid != os.getpid():
            connection = self._local.connection = self._route.connect(self.timeout)
            with self._connections_lock:
                self._connections.add(connection)
        if connection.sock is None:
            return connection, False
        if _dropped(connection.sock):
            connection.close()
            return connection, False
        return connection, True

    def _exchange(self, method, target, data, headers):
        """Send one request on this thread's connection and read its whole answer:
        (status, reason, Location header, body). Raises OSError or HTTPException when no
        answer came; the connection is then closed, and the next request opens another.

        A kept connection can still be closed by the server just as a request goes out on
        it. That request is sent once more at once, on a new connection, without counting
        as a retry: a read is safe to repeat, and a write carries its Idempotency-Key, so
        that if the server did carry it out, it answers the second copy with the first
        one's response instead of writing twice.
        """
        connection, kept = self._connection()
        try:
            try:
                connection.request(method, target, body=data, headers=headers)
                response = connection.getresponse()
            except ConnectionError:  # reset, broken pipe, closed without an answer
                if not kept:
                    raise
                connection.close()
                connection.request(method, target, body=data, headers=headers)
                response = connection.getresponse()
            raw = response.read()
        except BaseException:
            connection.close()
            raise
        if response.will_close or connection._send_error is not None or self._closed:
            connection.close()  # the server said so, it stopped reading, or close() came meanwhile
        return response.status, response.reason, response.getheader("Location"), raw

    def _close_connections(self):
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close()

    def _get(self, path, query=None):
        return self._call("GET", path, query=query)

    def _get_all(self, path, key, query=None):
        """Every page of a read whose answers end with next_after: the rows under `key`."""
        query = dict(query or {})
        rows = []
        while True:
            answer = self._get(path, query)
            rows += answer[key]
            if answer.get("next_after") is None:
                return rows
            query["after"] = answer["next_after"]

    def _get_curves(self, path, query):
        """Every page of a read of scores by job, whose answers end with next: each page's curves."""
        query = dict(query)
        while True:
            answer = self._get(path, query)
            yield answer
            if answer.get("next") is None:
                return
            query.update(answer["next"])

    def _post(self, path, body=None):
        return self._call("POST", path, body if body is not None else {})

    # -- lifetime ---------------------------------------------------------------------------------

    @_method(allowed_when_closed=True, flushes=False)
    def close(self):
        """Close the connector; a buffered one first sends what it holds (BackendError if
        it cannot: it then stays open, still holding them, and close() may be called again),
        then raises ResultsRefusedError for refused results not raised yet."""
        buffer = self._buffer
        if buffer is not None and not self._closed:
            buffer.close()
        self._closed = True
        self._close_connections()  # the transport's (issue 14, fastpath)
        if buffer is not None:
            buffer._raise_pending()

    @_method(allowed_when_closed=True, flushes=False)
    def is_closed(self):
        return self._closed

    # -- the buffered client (issue 14, part 2) -------------------------------------------------

    @_method(flushes=False)
    def flush(self):
        """Block until every result written so far is on the server (at once when not
        buffered). BackendError when the server has not answered for as long as a call
        retries (the results stay held, and go when it answers); ResultsRefusedError for
        results it refused (see tracking/buffering.py)."""
        if self._buffer is not None:
            self._buffer.flush()

    @_method(flushes=False)
    def real_irid(self, irid):
        """The server's id of the intermediate result save_intermediate_result gave the
        provisional id `irid`: waits until it is sent (flush()); NotFoundError if the server
        refused it, or if this connector never gave that id. A real id is returned as it is."""
        irid = _id(irid, "irid")
        return self._buffer.real_irid(irid) if self._buffer is not None else irid

    @property
    def refused_results(self):
        """Every buffered result the server refused, as dicts (ResultsRefusedError.results)."""
        return list(self._buffer.refused) if self._buffer is not None else []

    # -- experiments ------------------------------------------------------------------------------

    @_method()
    def start_experiment(self, username, *args, **kwargs):
        return self._new_experiment(username, args, kwargs, "RUNNING")

    @_method()
    def create_experiment(self, username, *args, **kwargs):
        return self._new_experiment(username, args, kwargs, "CREATED")

    def _new_experiment(self, username, args, kwargs, status):
        call = parse_experiment_call(args, kwargs)
        body = {"username": check_text(username, "username"), "status": status}
        if call.caller_config is not None:
            body["exp_config"] = call.config
        else:
            body.update(name=call.name, config=call.config)
        created = self._post("experiments/", body)
        if call.caller_config is not None:
            # As Auptimizer: the executor goes on with the name the experiment really has.
            call.caller_config["name"] = created["name"]
        return created["eid"]

    @_method()
    def start_experiment_by_eid(self, eid):
        self._post(f"experiments/{_id(eid, 'eid')}/restart/")

    @_method()
    def end_experiment(self, eid, status="FINISHED"):
        eid = _id(eid, "eid")
        self._post(f"experiments/{eid}/end/", {"status": check_experiment_status(status)})

    @_method()
    def change_experiment_status(self, eid, status="FINISHED"):
        eid = _id(eid, "eid")
        self._post(f"experiments/{eid}/status/", {"status": check_experiment_status(status)})

    @_method()
    def get_experiment_status(self, eid):
        return self._get(f"experiments/{_id(eid, 'eid')}/status/")["status"]

    @_method(allowed_when_closed=True)
    def maybe_get_experiment_status(self, eid):
        if self._closed:
            return None
        return self._get(f"experiments/{_id(eid, 'eid')}/status/")["status"]

    @_method()
    def delete_experiment(self, eid):
        try:
            self._call("DELETE", f"experiments/{_id(eid, 'eid')}/")
        except NotFoundError:
            return False
        return True

    @_method()
    def log_error_message(self, eid, msg):
        eid = _id(eid, "eid")
        self._post(f"experiments/{eid}/error/", {"msg": check_text(msg, "msg")})

    @_method()
    def get_all_experiment(self, username=None):
        if username:  # as Auptimizer: None or "" means everyone's
            return self._get_all("experiments/ids/", "eids", {"username": check_text(username, "username")})
        return self._get_all("experiments/ids/", "eids")

    # -- jobs and attempts ------------------------------------------------------------------------

    @_method()
    def start_job(self, eid, rid, job_config):
        return self._start_job(eid, rid, job_config, take_resource=False)

    @_method()
    def job_started(self, eid, rid, job_config):
        return self._start_job(eid, rid, job_config, take_resource=True)

    def _start_job(self, eid, rid, job_config, take_resource):
        eid, rid, config = _id(eid, "eid"), _id(rid, "rid"), _job_config(job_config)
        body = {"rid": rid, "config": config, "take_resource": take_resource}
        return self._post(f"experiments/{eid}/jobs/", body)["jid"]

    @_method()
    def start_job_attempt(self, rid, jid):
        rid, jid = _id(rid, "rid"), _id(jid, "jid")
        return self._post(f"jobs/{jid}/attempts/", {"rid": rid, "take_resource": False})["jaid"]

    @_method()
    def job_retry(self, rid, jid):
        rid, jid = _id(rid, "rid"), _id(jid, "jid")
        return self._post(f"jobs/{jid}/attempts/", {"rid": rid, "take_resource": True})["jaid"]

    @_method()
    def end_job_attempt(self, jid):
        self._post(f"jobs/{_id(jid, 'jid')}/end-attempt/", {"free_rid": None})

    @_method()
    def job_failed(self, rid, jid):
        rid, jid = _id(rid, "rid"), _id(jid, "jid")
        self._post(f"jobs/{jid}/end-attempt/", {"free_rid": rid})

    @_method()
    def end_job(self, jid, score=None, status=None):
        self._end_job(None, jid, score, status, "end_job")

    @_method()
    def job_finished(self, rid, jid, score=None, status=None):
        self._end_job(_id(rid, "rid"), jid, score, status, "job_finished")

    def _end_job(self, rid, jid, score, status, method):
        jid = _id(jid, "jid")
        status = check_job_status(status)
        body = {"score": _wire_score(score, method), "status": status, "free_rid": rid}
        self._post(f"jobs/{jid}/end/", body)

    @_method()
    def update_job_status(self, jid, status):
        jid = _id(jid, "jid")
        self._post(f"jobs/{jid}/status/", {"status": check_job_status(status)})

    @_method()
    def get_running_job(self, eid):
        eid = _lookup_id(eid, "eid")
        if eid is None:
            return []
        try:
            return self._get_all(f"experiments/{eid}/job-ids/", "jids")
        except NotFoundError:
            return []

    @_method()
    def get_all_history(self, eid):
        eid = _lookup_id(eid, "eid")
        if eid is None:
            return []
        try:
            rows = self._get_all(f"experiments/{eid}/history/", "jobs")
        except NotFoundError:
            return []
        return [
            (
                row["jid"],
                from_wire(row["score"]),
                row["eid"],
                row["start_time"],
                row["end_time"],
                row["status"],
                row["config_json"],
            )
            for row in rows
        ]

    def _best(self, eid, maximize):
        number = _lookup_id(eid, "eid")
        if number is None:
            raise NotFoundError(f"experiment {eid} does not exist")
        return self._get(f"experiments/{number}/best/", {"maximize": "true" if maximize else "false"})

    @_method()
    def get_best_result(self, eid, maximize=True):
        best = self._best(eid, maximize)
        return None if best["jid"] is None else [best["jid"], float(best["score"])]

    @_method()
    def get_best_result_config(self, eid, maximize=True):
        try:
            best = self._best(eid, maximize)
        except NotFoundError:
            return None  # as Auptimizer: no row
        return None if best["config_json"] is None else (best["config_json"],)

    # -- resources ----------------------------------------------------------------------------------

    @_method()
    def get_resource_type(self):
        return self._get("resources/types/")["types"]

    @_method()
    def get_available_resource(self, username, rtype, rid_blacklist=None):
        if not check_resource_query(rtype, rid_blacklist):
            return []
        body = {"rtype": rtype, "blacklist": []}
        if rid_blacklist:
            # Ids that match nothing are left out; a blacklist of only those is still one
            # (it makes the type match exactly), so it is sent as an id no row has.
            blacklist = sorted(set(lookup_ids(rid_blacklist, "rid_blacklist", "a blacklisted rid")))
            body["blacklist"] = blacklist or [ID_RANGE[-1]]
        # In a body, not a query: a blacklist needs all of its ids at once, more than a URL holds.
        return self._call("POST", "resources/available/", body, write=False)["rids"]

    @_method()
    def take_available_resource(self, rid):
        return self._post(f"resources/{_id(rid, 'rid')}/take/")["taken"]

    @_method()
    def free_used_resource(self, rid):
        return self._post(f"resources/{_id(rid, 'rid')}/free/")["freed"]

    @_method()
    def free_all_resources(self):
        self._post("resources/free-all/")

    # -- results ------------------------------------------------------------------------------------

    @_method(flushes=False)
    def save_intermediate_result(self, jid, score):
        """Record the job's next intermediate result; return its id (irid).

        Buffered, the id is provisional until the result is sent: a negative integer that
        only this connector understands (save_multiple_results, real_irid). It never
        becomes the server's id by itself: ``real_irid(irid)`` waits until the result is
        sent (as flush() does) and gives the server's id.
        """
        jid = _quick_id(jid, "jid")
        score = _quick_score(score, "save_intermediate_result")
        if self._buffer is not None:
            return self._buffer.add_result(jid, score)
        return self._post(f"jobs/{jid}/intermediate-results/", {"score": score})["irid"]

    @_method(flushes=False)
    def save_intermediate_results(self, results):
        """Record many intermediate results in few requests; return their irids, in order.

        Not part of the interface: for executors that report faster than one request a
        step. Each result is a dict with ``jid`` and ``score`` and, for labeled results of
        the same step, ``scores`` and optionally ``labels`` (as save_multiple_results).
        Sent in requests of at most BATCH_SIZE results and MAX_BODY_BYTES, each all or
        nothing; a result too large for a request of its own is InvalidInputError, before
        any is sent. Buffered, they are queued, and the ids are provisional (see
        save_intermediate_result).
        """
        items = []
        for result in results:
            if not isinstance(result, Mapping) or "jid" not in result or "score" not in result:
                raise InvalidInputError("each result must be a dict with jid and score (and maybe labels, scores)")
            item = {
                "jid": _id(result["jid"], "jid"),
                "score": _wire_score(result["score"], "save_intermediate_results"),
            }
            scores = check_scores(result.get("scores") or [])
            item["scores"] = [_wire_score(value, "save_intermediate_results") for value in scores]
            labels = check_labels(result.get("labels"))
            if labels is not None:
                item["labels"] = labels
            items.append(item)
        if self._buffer is not None:
            return [self._queue_result(item) for item in items]
        irids = []
        for batch in _batches(items):
            irids += self._post("intermediate-results/batch/", {"results": batch})["irids"]
        return irids

    @_method()
    def get_intermediate_results_job(self, jid):
        jid = _lookup_id(jid, "jid")
        if jid is None:
            return []
        try:
            results = self._get_all(f"jobs/{jid}/intermediate-results/", "results")
        except NotFoundError:
            return []
        return [from_wire(result["score"]) for result in results]

    @_method()
    def get_intermediate_results_jobs(self, jids):
        jids = sorted(set(lookup_ids(jids, "jids", "jid")))
        curves = {}
        # The union of per-job reads: as many requests as the ids need to fit the budget,
        # each followed through its pages (whose cursor the query then carries too).
        for chunk in self._query_chunks("intermediate-results/", "jid", jids, JIDS_PER_REQUEST, CURSOR_ROOM):
            _add_curves(curves, self._get_curves("intermediate-results/", {"jid": chunk}))
        return curves

    def _query_chunks(self, path, name, ids, most, reserve=0):
        """`ids` in consecutive lists of at most `most`, each short enough that a GET of
        `path` with it as the query parameter `name`, and `reserve` bytes more of query,
        keeps REQUEST_LINE_BUDGET."""
        room = REQUEST_LINE_BUDGET - reserve - _request_line_length("GET", f"{self.api_url}{path}?")
        chunk, used = [], 0
        for number in ids:
            size = len(f"&{name}={number}")
            if chunk and (used + size > room or len(chunk) == most):
                yield chunk
                chunk, used = [], 0
            chunk.append(number)
            used += size
        if chunk:
            yield chunk

    @_method()
    def get_intermediate_results_experiment(self, eid, status):
        query = check_results_query(eid, status)
        if query is None:
            return {}
        eid, status = query
        try:
            return _add_curves({}, self._get_curves(f"experiments/{eid}/intermediate-results/", {"status": status}))
        except NotFoundError:
            return {}

    _labels_seen = None  # the last labels checked: executors repeat them every step

    def _checked_labels(self, labels, count):
        seen = self._labels_seen
        if seen is not None and type(labels) is list and labels == seen:
            if len(seen) != count:
                raise InvalidInputError(f"{len(seen)} labels for {count} scores")
            return seen
        labels = check_labels(labels, count)
        if labels:
            self._labels_seen = labels
        return labels

    def _queue_result(self, item):
        irid = self._buffer.add_result(item["jid"], item["score"])
        if item["scores"]:
            self._buffer.add_labeled(item["jid"], irid, None, item.get("labels"), item["scores"])
        return irid

    @_method(flushes=False)
    def save_multiple_results(self, jid, irid, eid, labels, scores):
        jid, irid, eid = _quick_id(jid, "jid"), _quick_id(irid, "irid", allow_none=True), _quick_id(eid, "eid")
        values = [_quick_score(value, "save_multiple_results") for value in check_scores(scores)]
        labels = self._checked_labels(labels, len(scores))
        if self._buffer is not None:
            # Queued; a provisional irid's labeled values travel in its step's batch item.
            self._buffer.add_labeled(jid, irid, eid, labels, values)
            return
        body = {"eid": eid, "irid": irid, "labels": labels, "scores": values}
        self._post(f"jobs/{jid}/multiple-results/", body)

    @_method()
    def set_last_multiple_results(self, eid, jid, num_labels):
        eid, jid = _id(eid, "eid"), _id(jid, "jid")
        num_labels = check_num_labels(num_labels)
        self._post(f"jobs/{jid}/multiple-results/last/", {"eid": eid, "num_labels": num_labels})

    # -- exports (issue 13, part 6): tables for scripts, from the API's exports -----------------

    @_method()
    def read_jobs(self, eid, *, status=None, sort=None, query=None, frame=None):
        """Experiment `eid`'s jobs as its page's jobs table shows them, every one of them.

        Returns a pandas DataFrame when pandas is installed (it is not a requirement of
        aupsite: ``pip install pandas``), else a list of dicts, a row per job; ``frame=False``
        always gives the list, ``frame=True`` requires pandas. Columns: ``number``, ``id``,
        ``status``, ``score``, ``start``, ``end`` (datetimes in a DataFrame, ISO 8601 texts
        in the list), ``duration_seconds``, ``attempts``, ``param.<name>`` per hyperparameter
        (None where a job's configuration lacks it), ``result.<label>`` per labeled result
        (its final value). A score or labeled value is a float (NaN and the infinities
        included) or the text it was reported as.

        ``status`` (a job status, or "none"), ``sort`` (as the table's: "-score", "start",
        ...; default "-id", newest first) and ``query`` (more of the page's query values,
        such as the brush's ``{"b.lr": ...}`` as the page's URL carries them) choose the
        rows, as on the page. ``GET /api/experiments/<eid>/jobs/export/?format=json``:
        one request, streamed by the server. NotFoundError for an experiment the token's
        user may not see, InvalidInputError for a bad status or sort.
        """
        eid = _id(eid, "eid")
        values = {**(query or {}), "format": "json"}
        for name, value in (("status", status), ("sort", sort)):
            if value is not None:
                values[name] = value
        rows = self._get(f"experiments/{eid}/jobs/export/", values)
        for row in rows:
            for column, value in row.items():
                if column == "score" or column.startswith("result."):
                    row[column] = from_wire(value)
        return _table(rows, frame, times=("start", "end"))

    @_method()
    def read_experiments(self, *, q=None, status=None, owner=None, sort=None, frame=None):
        """The experiments the token's user may see, as the dashboard's list shows them:
        a pandas DataFrame when pandas is installed, else a list of dicts (see read_jobs).

        Columns: ``id``, ``name``, ``owner``, ``status``, ``start``, ``end``,
        ``jobs_total``, ``jobs_done``, ``best_score``, ``target`` ("max" or "min"), ``tags``
        (a list of names). ``q`` (part of the name), ``status``, ``owner`` (a user id; staff
        only) and ``sort`` ("running", the default, "-start", "name", "-best", ...) filter and
        sort them as the list's. ``GET /api/experiments/export/?format=json``.
        """
        values = {"format": "json"}
        for name, value in (("q", q), ("status", status), ("owner", owner), ("sort", sort)):
            if value is not None:
                values[name] = value
        return _table(self._get("experiments/export/", values), frame, times=("start", "end"))


def _make_buffer(connector, root, flush_interval, flush_size, max_buffered):
    """The buffered client's queue for `connector` (tracking/buffering.py, imported only
    here: an unbuffered client does without that file)."""
    from tracking.buffering import ResultBuffer

    if isinstance(flush_interval, bool) or not isinstance(flush_interval, (int, float)) or not flush_interval > 0:
        raise InvalidInputError(f"flush_interval must be a number of seconds above 0, not {flush_interval!r}")
    for name, value in (("flush_size", flush_size), ("max_buffered", max_buffered)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError(f"{name} must be an integer of at least 1, not {value!r}")
    # The sending thread's own connector: the same address, token and connector id, but
    # retrying a batch for as long as the network fails, with the same Idempotency-Key,
    # so that a batch is written once however long an outage lasts.
    sender = RestConnector(
        root, connector._token, timeout=connector.timeout, retries=_FOREVER, backoff=connector.backoff,
        max_backoff=connector.max_backoff,
    )  # fmt: skip
    sender.connector_id = connector.connector_id

    def send(items):
        return sender._call("POST", "intermediate-results/batch/", {"results": items})["irids"]

    def job_exists(jid):
        try:
            sender._call("GET", f"jobs/{jid}/intermediate-results/", query={"limit": 1})
        except NotFoundError:
            return False
        return True

    # flush() gives up (BackendError) after as long as one of the connector's calls retries.
    stall = connector.timeout + sum(min(connector.backoff * 2**n, connector.max_backoff) for n in range(connector.retries))
    buffer = ResultBuffer(
        send, job_exists, flush_interval=flush_interval, flush_size=flush_size, max_buffered=max_buffered,
        stall_seconds=stall, retries=connector.retries, backoff=connector.backoff, where=connector.api_url,
    )  # fmt: skip
    # The thread holds the buffer, not the connector: a connector dropped unclosed lets it end.
    weakref.finalize(connector, buffer.release)
    return buffer


# A sending thread's retries: as many as an outage takes.
_FOREVER = 2**62


def read_jobs(base_url, token, eid, **options):
    """RestConnector(base_url, token).read_jobs(eid, **options): one experiment's jobs table
    for a script, as a pandas DataFrame when pandas is installed, else a list of dicts."""
    connector = RestConnector(base_url, token)
    try:
        return connector.read_jobs(eid, **options)
    finally:
        connector.close()


def _table(rows, frame, times=()):
    """`rows` (dicts) as a pandas DataFrame, its `times` columns as datetimes, when pandas
    can be imported and `frame` is not False; else the list itself. Imported here, on use:
    this module needs only the standard library."""
    if frame is False:
        return rows
    try:
        import pandas
    except ImportError:
        if frame:
            raise ImportError("frame=True needs pandas: pip install pandas") from None
        return rows
    table = pandas.DataFrame(rows)
    for column in times:
        if column in table:
            table[column] = pandas.to_datetime(table[column], utc=True, format="ISO8601")
    return table


def _add_curves(curves, answers):
    # A job's curve may go on from one page to the next: its scores are appended.
    for answer in answers:
        for jid, scores in answer["curves"].items():
            curves.setdefault(int(jid), []).extend(from_wire(value) for value in scores)
    return curves


def _encode(body):
    return json.dumps(body, allow_nan=False).encode("utf-8")


def _request_line_length(method, url):
    return len(f"{method} {url} HTTP/1.1".encode("utf-8"))


# Bytes of a batch's body around its results: {"results": [...]}, and between two of them.
_BATCH_ENVELOPE, _BATCH_SEPARATOR = len(_encode({"results": []})), len(", ")


def _batches(items):
    """`items` (encodable results) in consecutive lists of at most BATCH_SIZE whose body
    {"results": [...]} keeps MAX_BODY_BYTES; InvalidInputError, before any list is
    given, for an item too large for a body of its own."""
    sizes = [len(_encode(item)) for item in items]
    for index, size in enumerate(sizes):
        if _BATCH_ENVELOPE + size > MAX_BODY_BYTES:
            raise InvalidInputError(
                f"save_intermediate_results: result {index} is too large to send ({size:,} bytes; a request "
                f"takes at most {MAX_BODY_BYTES:,})"
            )
    batch, used = [], _BATCH_ENVELOPE
    for item, size in zip(items, sizes):
        if batch and (len(batch) == BATCH_SIZE or used + _BATCH_SEPARATOR + size > MAX_BODY_BYTES):
            yield batch
            batch, used = [], _BATCH_ENVELOPE
        used += size + (_BATCH_SEPARATOR if batch else 0)
        batch.append(item)
    if batch:
        yield batch


def _decode(raw):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise BackendError(f"the server sent something that is not JSON: {raw[:200]!r}") from None


def _decode_error(reason, raw):
    try:
        payload = json.loads(raw) if raw else {}
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or "detail" not in payload:
        # Not an error of the API: a proxy's page, or no aupsite at this address.
        text = raw[:200].decode("utf-8", "replace").strip()
        return {"detail": f"{reason}{': ' + text if text else ''}", "foreign": True}
    return payload


def _error(method, url, status, payload, attempts):
    detail = str(payload.get("detail", ""))
    if status == 413:
        # A proxy in front of the server that takes less than MAX_BODY_BYTES: the call is
        # too large for this site, and sending it again cannot help.
        return InvalidInputError(f"{method} {url}: too large for the server (HTTP 413: {detail})")
    if payload.get("foreign"):
        return BackendError(f"{method} {url}: HTTP {status} from something that is not aupsite's API: {detail}")
    if status == 400:
        return InvalidInputError(detail)
    if status == 404:
        return NotFoundError(detail)
    if status in (401, 403):
        return AccessDeniedError(f"{method} {url}: {detail}")
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return BackendError(f"{method} {url}: HTTP {status}{tries}: {detail}")
