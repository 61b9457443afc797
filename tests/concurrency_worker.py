"""One executor process for the concurrency tests: python -m tests.concurrency_worker MODE ...

It connects the way a real executor does (DJANGO_SETTINGS_MODULE and DATABASE_URL in
its environment, nothing else), waits for the go file so that all workers start at
once, and prints one JSON document on stdout.
"""

import json
import os
import sys
import time


def wait_for(go_file):
    deadline = time.monotonic() + 60
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            raise SystemExit("go file never appeared")
        time.sleep(0.001)


def write(connector, eid, rid, steps):
    """A job's whole lifecycle, with a failed first attempt and a retry."""
    jid = connector.job_started(eid, rid, {"worker": os.getpid()})
    connector.job_failed(rid, jid)
    connector.job_retry(rid, jid)
    for step in range(steps):
        irid = connector.save_intermediate_result(jid, step / steps)
        connector.save_multiple_results(jid, irid, eid, ["accuracy", "loss"], [step / steps, 1 - step / steps])
    connector.set_last_multiple_results(eid, jid, 2)
    connector.job_finished(rid, jid, 1.0, "FINISHED")
    return {"jid": jid}


def race(connector, rounds, hold_seconds):
    """Take any free cpu resource, hold it a moment, free it; record when it was held."""
    holds = []
    while len(holds) < rounds:
        for rid in connector.get_available_resource(None, "cpu"):
            if connector.take_available_resource(rid):
                start = time.monotonic()
                time.sleep(hold_seconds)
                end = time.monotonic()
                connector.free_used_resource(rid)
                holds.append([rid, start, end])
                break
        else:
            time.sleep(0.001)
    return {"holds": holds}


def main(mode, go_file, *args):
    from tracking.connector import DjangoConnector

    connector = DjangoConnector()
    connector.get_resource_type()  # connect before the start line, as a running executor would be
    wait_for(go_file)
    if mode == "write":
        eid, rid, steps = (int(arg) for arg in args)
        result = write(connector, eid, rid, steps)
    elif mode == "race":
        result = race(connector, int(args[0]), float(args[1]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    connector.close()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:])
