"""The buffered client's machinery: ``RestConnector(base_url, token, buffered=True)``.

A training loop that reports every step should not wait for the network. With
``buffered=True`` the result writes (save_intermediate_result, save_multiple_results,
save_intermediate_results) check their arguments, append the result to an in-memory queue
and return at once; a background thread sends the queue in batches, in order, through the
batch endpoint (POST /api/intermediate-results/batch/), every ``flush_interval`` seconds
or as soon as ``flush_size`` results wait, whichever comes first. Every other call of the
connector (any read, the job and experiment lifecycle writes, ``close()``) first waits
until everything written before it is on the server, so the server never sees a job end
before its last steps, and a read sees the connector's own writes. ``flush()`` waits for
that on demand, and interpreter exit does it too (atexit).

The guarantees, and what they cost:

- Exactly once, in order. Each batch is one request with one Idempotency-Key, kept for
  every try of that batch: a batch whose answer was lost is replayed by the server, never
  written twice. The sending thread tries a batch until the server answers it, however
  long an outage lasts (backing off up to the connector's ``max_backoff``).
- Never dropped. During an outage results are held in memory, at most ``max_buffered``
  of them (sent or not yet answered); a write that would hold more blocks its caller
  until the server takes some. A ``flush()`` (or a read, or close()) during an outage
  raises BackendError once the sender has made no progress for as long as one of the
  connector's own calls would retry (timeout plus its backoffs); the results stay held
  and go when the server answers.
- Refusals are not silent. A batch the server refuses (a job deleted meanwhile, an
  experiment made read-only, a labeled result naming the wrong experiment) is split by job
  and halved until only the refused results are left out; the rest is recorded. The
  refused results are kept in ``connector.refused_results`` and ResultsRefusedError naming
  them is raised once, by the connector's next call, whichever thread makes it (the next
  write, flush(), a read, end_job, ...): that call is not carried out (call it again),
  except close(), which closes and then raises. At interpreter exit they are printed on
  stderr.
- What a crash can lose: results are in this process' memory until sent, so a crash of the
  executor (SIGKILL, os._exit, a power cut, the default action of SIGTERM; not an uncaught
  exception or sys.exit, which still end in atexit's flush) loses what was written since
  the last batch went: at most ``flush_interval`` seconds of results (or ``flush_size``
  results), plus, while the server is down or slow, everything held.

Provisional ids: see RestConnector.save_intermediate_result.

Standard library only (as tracking/client.py, which imports this module only when
``buffered=True``).
"""

import atexit
import os
import random
import sys
import threading
import time
import weakref
from array import array
from collections import deque

from tracking.interface import BackendError, ConnectorError, InvalidInputError, NotFoundError

# Markers in the table of real irids: not sent yet, and refused.
_UNSENT, _REFUSED = 0, -1
# Provisional ids are -(base + n): a base per connector keeps one connector's ids apart
# from another's (and from every real id, which is positive), with room for 2**40 results.
_PROVISIONAL_SPAN = 2**40
# How many refused results an error message spells out; the exception carries them all.
_NAMED_IN_MESSAGE = 5


class ResultsRefusedError(ConnectorError):
    """The server refused some buffered results, which were therefore not recorded.

    ``results``: one dict per refused result, in the order they were written: ``irid``
    (the provisional id save_intermediate_result returned, or the irid given to
    save_multiple_results), ``jid``, ``score`` (None for labeled results alone),
    ``labels``, ``scores`` (labeled values, if any) and ``error`` (the server's reason).
    ``errors``: the exceptions the refusals were (NotFoundError, InvalidInputError,
    AccessDeniedError, ...), one per result.
    """

    def __init__(self, message, results, errors):
        super().__init__(message)
        self.results = results
        self.errors = errors


class _Item:
    """One buffered write: an intermediate result (`seq` set), maybe with the labeled
    results of its step attached, or labeled results alone (`seq` None; their
    intermediate result is `irid`, a real id or None, or `ref`, a provisional one's seq)."""

    __slots__ = ("seq", "jid", "score", "ref", "irid", "labeled", "eid", "labels", "scores")

    def __init__(self, seq, jid, score):
        self.seq, self.jid, self.score = seq, jid, score
        self.ref = self.irid = self.eid = self.labels = self.scores = None
        self.labeled = False

    def label(self, eid, labels, scores):
        self.labeled, self.eid, self.labels, self.scores = True, eid, labels, scores

    def wire(self):
        """The item as the batch endpoint takes it."""
        body = {"jid": self.jid}
        if self.seq is not None:
            body["score"] = self.score
        else:
            body["irid"] = self.irid
        if self.labeled:
            if self.eid is not None:  # None: the job's experiment (save_intermediate_results)
                body["eid"] = self.eid
            body["scores"] = self.scores
            if self.labels is not None:
                body["labels"] = self.labels
        return body


_LIVE = weakref.WeakSet()  # every buffer of this process, for fork and exit


def _forget_in_child():
    # A forked child holds a copy of its parent's queue, which the parent sends: the
    # child must not send it again (nor has it the parent's sending thread).
    for buffer in list(_LIVE):
        buffer._forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


class ResultBuffer:
    """The queue of one buffered RestConnector, and the thread that empties it.

    `send(items)` posts one batch (a list of wire dicts) in one request, retried as long
    as the network fails, and returns the irids; it raises the connector's errors for an
    answer that refuses it. `job_exists(jid)` reads whether the job is still there.
    `stall_seconds`: how long flush() waits without progress before BackendError.
    """

    def __init__(self, send, job_exists, *, flush_interval, flush_size, max_buffered, stall_seconds, retries, backoff, where):
        self._send = send
        self._job_exists = job_exists
        self.flush_interval = flush_interval
        self.flush_size = flush_size
        self.max_buffered = max_buffered
        self._batch_size = min(flush_size, 1000)  # the batch endpoint's limit
        self._stall = stall_seconds
        self._retries = retries
        self._backoff = backoff
        self._where = where
        self._base = random.randrange(1, 2**22) * _PROVISIONAL_SPAN
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the sender waits here for work
        self._changed = threading.Condition(self._lock)  # writers wait for room, flush() for progress
        self._send_lock = threading.Lock()  # one batch at a time: order
        self._pending = deque()
        self._unsent = {}  # seq -> pending item whose step's labeled results may still join it
        self._held = 0  # pending + being sent: what max_buffered bounds
        self._written = 0  # items ever queued
        self._done = 0  # items sent or refused
        self._next_seq = 0
        self._real = array("q")  # seq -> the server's irid, _UNSENT or _REFUSED
        self._jids = array("q")  # seq -> jid
        self._dead_jobs = set()  # jobs found deleted: their later results are refused unsent
        self._due = 0.0
        self._urgent = False
        self._closing = False
        self._forked = False
        self._progress_at = time.monotonic()
        self._last_error = None
        self.refused = []  # every refused result (dicts, see ResultsRefusedError)
        self._unraised = []  # those not yet raised to a caller
        self._thread = None
        _LIVE.add(self)
        atexit.register(_flush_at_exit, weakref.ref(self))

    # -- the caller's side: cheap --------------------------------------------------------

    def add_result(self, jid, score):
        """Queue an intermediate result (checked by the caller); return its provisional id."""
        if self._unraised or self._forked:
            self._raise_pending()
        item = _Item(None, jid, score)
        with self._lock:
            if self._held >= self.max_buffered:
                self._wait_for_room()
            seq = item.seq = self._next_seq
            self._next_seq = seq + 1
            self._real.append(_UNSENT)
            self._jids.append(jid)
            self._unsent[seq] = item
            # As _queue(item), inline: this is the training loop's every step.
            pending = self._pending
            pending.append(item)
            self._held += 1
            self._written += 1
            if len(pending) == 1:
                self._due = time.monotonic() + self.flush_interval
                self._wake.notify()
                if self._thread is None:
                    self._start()
            elif len(pending) >= self._batch_size:
                self._wake.notify()
        return -(self._base + seq)

    def add_labeled(self, jid, irid, eid, labels, scores):
        """Queue labeled results (checked by the caller) of intermediate result `irid`:
        attached to it while it waits, when it is a provisional id of this connector."""
        if self._unraised or self._forked:
            self._raise_pending()
        seq = self.provisional_seq(irid)
        if seq is not None and self._jids[seq] != jid:
            raise NotFoundError(f"intermediate result {irid} of job {jid} does not exist")
        with self._lock:
            step = self._unsent.get(seq) if seq is not None else None
            if step is not None and not step.labeled:
                step.label(eid, labels, scores)  # the step's own batch item carries them
                return
            if self._held >= self.max_buffered:
                self._wait_for_room()
            item = _Item(None, jid, None)
            item.label(eid, labels, scores)
            if seq is not None:
                item.ref = seq
            else:
                item.irid = irid
            self._queue(item)

    def provisional_seq(self, irid):
        """The queue number of provisional id `irid`; None for an id that is not one (a
        real id, None); NotFoundError for a negative id this connector never gave."""
        if irid is None or irid > 0:
            return None
        seq = -irid - self._base
        if not 0 <= seq < self._next_seq:
            raise NotFoundError(f"intermediate result {irid} does not exist (not a provisional id of this connector)")
        return seq

    def real_irid(self, irid):
        """The server's id for provisional id `irid` (a real id is returned as it is)."""
        seq = self.provisional_seq(irid)
        if seq is None:
            return irid
        if self._real[seq] == _UNSENT:
            self.flush()
        real = self._real[seq]
        if real == _REFUSED:
            raise NotFoundError(f"intermediate result {irid} was refused by the server (see refused_results)")
        return real

    def _queue(self, item):
        # Under the lock.
        pending = self._pending
        pending.append(item)
        self._held += 1
        self._written += 1
        if len(pending) == 1:
            self._due = time.monotonic() + self.flush_interval
            self._wake.notify()
            if self._thread is None:
                self._start()
        elif len(pending) >= self._batch_size:
            self._wake.notify()

    def _wait_for_room(self):
        # Under the lock: the bound is reached (an outage, or a writer faster than the
        # server): block until the sender has taken some, never drop.
        while self._held >= self.max_buffered:
            self._urgent = True
            self._wake.notify()
            self._changed.wait(1.0)

    def _start(self):
        self._thread = threading.Thread(target=self._run, name="aupsite-results-sender", daemon=True)
        self._thread.start()

    # -- flushing ------------------------------------------------------------------------

    def flush(self, raise_refused=True):
        """Block until every result queued before this call is sent (or refused); then raise
        ResultsRefusedError for refused results not raised yet. BackendError when the sender
        has made no progress for stall_seconds (the results stay held)."""
        if self._forked:
            self._raise_pending()
        with self._lock:
            target = self._written
            started = time.monotonic()
            while self._done < target:
                if self._thread is None or not self._thread.is_alive():
                    self._start()
                self._urgent = True
                self._wake.notify()
                stalled = time.monotonic() - max(started, self._progress_at)
                if stalled >= self._stall:
                    cause = f" (last error: {self._last_error})" if self._last_error else ""
                    raise BackendError(
                        f"{self._where}: {target - self._done} buffered results not sent yet: no answer for "
                        f"{stalled:.0f} s{cause}. They stay held and are sent when the server answers; call "
                        "flush() or close() again to wait for them."
                    )
                self._changed.wait(min(self._stall - stalled, 1.0))
        if raise_refused:
            self._raise_pending()

    def close(self):
        """Flush (BackendError leaves the buffer as it is), then stop the sending thread."""
        self.flush(raise_refused=False)
        with self._lock:
            self._closing = True
            self._wake.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        _LIVE.discard(self)

    def release(self):
        """Its connector is gone (garbage collected, never closed): the thread sends what is
        left and ends, rather than waiting for more for the rest of the process' life."""
        with self._lock:
            self._closing = True
            self._wake.notify()

    @property
    def held(self):
        return self._held

    def _raise_pending(self):
        if self._forked:
            raise ConnectorError(
                "a buffered RestConnector belongs to the process that made it (this one was forked): make a new one here"
            )
        with self._lock:
            unraised, self._unraised = self._unraised, []
        if unraised:
            refused = [record for record, _ in unraised]
            named = "; ".join(_describe(result) for result in refused[:_NAMED_IN_MESSAGE])
            more = f"; and {len(refused) - _NAMED_IN_MESSAGE} more" if len(refused) > _NAMED_IN_MESSAGE else ""
            raise ResultsRefusedError(
                f"the server refused {len(refused)} buffered result(s), which were not recorded "
                f"(connector.refused_results lists them): {named}{more}",
                refused,
                [error for _, error in unraised],
            )

    # -- the sending thread --------------------------------------------------------------

    def _run(self):
        while True:
            with self._lock:
                while True:
                    if self._pending:
                        now = time.monotonic()
                        if self._urgent or self._closing or len(self._pending) >= self._batch_size or now >= self._due:
                            break
                        self._wake.wait(self._due - now)
                    elif self._closing:
                        self._thread = None
                        return
                    else:
                        self._urgent = False
                        self._wake.wait()
            try:
                self._drain()
            except Exception as error:  # noqa: BLE001 - a bug here must not end the sending
                self._last_error = f"{type(error).__name__}: {error}"
                time.sleep(self._backoff)

    def _drain(self):
        """Send the next batch (the thread then waits again, unless more is due)."""
        with self._send_lock:
            chunk = self._take()
            if not chunk:
                return
            try:
                self._deliver(chunk)
            except Exception as error:  # noqa: BLE001 - not silent: named as refused
                undecided = [item for item in chunk if item.seq is None or self._real[item.seq] == _UNSENT]
                self._refuse(undecided, f"not known to be recorded ({type(error).__name__}: {error})")
            finally:
                self._finished(len(chunk))

    def _take(self):
        """The next batch, off the queue: at most batch_size items, ending before labeled
        results that belong to a step of the same batch (their irid is not known yet)."""
        with self._lock:
            chunk, steps = [], set()
            pending = self._pending
            while pending and len(chunk) < self._batch_size:
                item = pending[0]
                if item.ref is not None and item.ref in steps:
                    break
                pending.popleft()
                if item.seq is not None:
                    steps.add(item.seq)
                    del self._unsent[item.seq]
                chunk.append(item)
            return chunk

    def _finished(self, count):
        with self._lock:
            self._held -= count
            self._done += count
            self._progress_at = time.monotonic()
            self._last_error = None
            self._changed.notify_all()

    def _deliver(self, chunk):
        """Send `chunk` in one request; on a refusal, find and set aside only the refused items."""
        ready = []
        for item in chunk:
            if item.jid in self._dead_jobs:
                self._refuse([item], NotFoundError(f"job {item.jid} does not exist"))
            elif item.ref is not None and self._real[item.ref] == _REFUSED:
                self._refuse([item], NotFoundError("its intermediate result was refused"))
            else:
                if item.ref is not None:
                    item.irid = self._real[item.ref]
                ready.append(item)
        if not ready:
            return
        for attempt in range(self._retries + 1):
            try:
                irids = self._send([item.wire() for item in ready])
                break
            except PermissionError as error:  # 401/403: the token, or the experiment, not one result
                self._refuse(ready, error)
                return
            except (InvalidInputError, NotFoundError) as error:
                self._isolate(ready, error)
                return
            except BackendError as error:  # an answer, but a failure (500): rolled back; try again
                self._last_error = str(error)
                if attempt == self._retries:
                    self._refuse(ready, error)
                    return
                time.sleep(self._backoff * 2**attempt)
        if len(irids) != len(ready):
            raise BackendError(f"the batch endpoint answered {len(irids)} ids for {len(ready)} results")
        for item, irid in zip(ready, irids):
            if item.seq is not None:
                self._real[item.seq] = irid

    def _isolate(self, items, error):
        # The batch was all or nothing: nothing of it was written. Split it by job, then
        # halve a job's part, until what is refused is a single result or a whole job
        # that is gone; the rest is sent again.
        if len(items) == 1:
            [item] = items
            if item.seq is not None and item.labeled:
                # A step and its labeled results: the step alone may be fine (as unbuffered,
                # where they are two calls), and then only the labeled results are refused.
                labeled = _Item(None, item.jid, None)
                labeled.label(item.eid, item.labels, item.scores)
                labeled.ref = item.seq
                item.labeled, item.eid, item.labels, item.scores = False, None, None, None
                self._deliver([item])
                self._deliver([labeled])
                return
            self._refuse(items, error)
            return
        jobs = {}
        for item in items:
            jobs.setdefault(item.jid, []).append(item)
        if len(jobs) > 1:
            for part in jobs.values():
                self._deliver(part)
            return
        [jid] = jobs
        if isinstance(error, NotFoundError) and not self._job_exists(jid):
            self._dead_jobs.add(jid)
            self._refuse(items, error)
            return
        middle = len(items) // 2
        self._deliver(items[:middle])
        self._deliver(items[middle:])

    def _refuse(self, items, error):
        records = []
        for item in items:
            if item.seq is not None:
                self._real[item.seq] = _REFUSED
            irid = -(self._base + item.seq) if item.seq is not None else (
                -(self._base + item.ref) if item.ref is not None else item.irid
            )
            records.append(
                {"irid": irid, "jid": item.jid, "score": item.score, "labels": item.labels, "scores": item.scores, "error": str(error)}
            )
        if not isinstance(error, Exception):
            error = BackendError(error)
        with self._lock:
            self.refused += records
            self._unraised += [(record, error) for record in records]


def _describe(result):
    what = f"score {result['score']!r}" if result["score"] is not None else f"labeled values {result['scores']!r}"
    return f"job {result['jid']}, irid {result['irid']}, {what}: {result['error']}"


def _flush_at_exit(reference):
    """At interpreter exit, send what a buffered connector still holds (it was not closed)."""
    buffer = reference()
    if buffer is None or buffer._forked or buffer not in _LIVE:
        return
    try:
        buffer.flush(raise_refused=False)
    except BackendError as error:
        print(f"aupsite: at exit, {buffer.held} buffered results could not be sent and are lost: {error}", file=sys.stderr)
    if buffer._unraised:
        for result, _ in buffer._unraised:
            print(f"aupsite: refused by the server, not recorded: {_describe(result)}", file=sys.stderr)
