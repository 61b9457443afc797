"""A tiny tuning loop that records itself in aupsite over HTTP, through RestConnector.

    export AUPSITE_TOKEN=aup_...          # from the API tokens page, or manage.py aup_token create
    python3 examples/remote_executor.py --url http://127.0.0.1:8000 --user alice --jobs 6

The same loop as examples/random_search.py, with one line changed: the connector is a
RestConnector (site address and API token) instead of a DjangoConnector. It needs
neither Django nor the database, only Python's standard library and four files of the
client, tracking/__init__.py, client.py, interface.py and scores.py, found beside this
folder: run it from a checkout, or from a copy of those files and this one that keeps
their paths (README, "REST API and remote executors"), with any python3.

Each job "trains" for a few steps, reporting its learning curve and two labeled results
per step; one job fails on its first attempt and is retried, as executors do. Lost
connections are retried by the connector without recording anything twice.
"""

import argparse
import math
import random
import sys
from pathlib import Path

# The client is the `tracking` folder beside this one (a checkout, or the copy the README
# makes): put it first on the path, so that a plain python3, with no virtualenv, no
# installed aupsite and no PYTHONPATH, finds it wherever it is run from.
CLIENT_ROOT = Path(__file__).resolve().parent.parent
if (CLIENT_ROOT / "tracking" / "client.py").is_file():
    sys.path.insert(0, str(CLIENT_ROOT))

from tracking.client import RestConnector  # after the path is set


def train(connector, eid, jid, config, steps):
    """Report a learning curve; return the final score."""
    accuracy = 0.0
    for step in range(steps):
        accuracy = (1 - math.exp(-config["lr"] * (step + 1))) * (1 - config["dropout"] / 2)
        irid = connector.save_intermediate_result(jid, accuracy)
        connector.save_multiple_results(jid, irid, eid, ["accuracy", "loss"], [accuracy, 1 - accuracy])
    connector.set_last_multiple_results(eid, jid, 2)
    return accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the aupsite address, e.g. https://aupsite.example.org")
    parser.add_argument("--token", help="an API token; by default $AUPSITE_TOKEN")
    parser.add_argument("--user", required=True)
    parser.add_argument("--name", default="remote search")
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--buffered", action="store_true", help="send results in batches from a background thread (README: the buffered client)"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)

    # The one line that differs from random_search.py.
    connector = RestConnector(args.url, args.token, buffered=args.buffered)
    experiment = {
        "name": args.name,
        "proposer": "random",
        "target": "max",
        "n_samples": args.jobs,
        "script": "examples/remote_executor.py",
        "parameter_config": [
            {"name": "lr", "range": [0.01, 0.5], "type": "float"},
            {"name": "dropout", "range": [0.0, 0.5], "type": "float"},
        ],
        "resource_args": {"multi_res_labels": ["accuracy", "loss"]},
    }
    eid = connector.start_experiment(args.user, experiment)
    [rid] = connector.get_available_resource(args.user, "cpu")[:1] or [None]
    if rid is None:
        raise SystemExit("no free cpu resource: run python manage.py aup_setup --user NAME --cpu 1 on the server")

    try:
        for index in range(args.jobs):
            config = {"lr": rng.uniform(0.01, 0.5), "dropout": rng.uniform(0.0, 0.5)}
            jid = connector.job_started(eid, rid, config)
            if index == 1:  # the first attempt of the second job crashes and is retried
                connector.job_failed(rid, jid)
                connector.job_retry(rid, jid)
            score = train(connector, eid, jid, config, args.steps)
            connector.job_finished(rid, jid, score, "FINISHED")
    except Exception as exc:
        connector.log_error_message(eid, f"{type(exc).__name__}: {exc}")
        connector.end_experiment(eid, "FAILED")
        connector.free_all_resources()
        raise

    connector.end_experiment(eid)
    print(f"experiment {eid} ({experiment['name']}): best job and score {connector.get_best_result(eid)}")
    connector.close()


if __name__ == "__main__":
    main()
