"""A tiny tuning loop that records itself in aupsite through DjangoConnector.

    .venv/bin/python examples/random_search.py --user alice --jobs 6

It needs a user and a cpu resource (python manage.py aup_setup --user alice --cpu 2).
Each job "trains" for a few steps, reporting its learning curve and two labeled
results per step; one job fails on its first attempt and is retried, as executors do.
"""

import argparse
import math
import random

from tracking.connector import DjangoConnector


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
    parser.add_argument("--user", required=True)
    parser.add_argument("--name", default="random search")
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    connector = DjangoConnector()
    experiment = {
        "name": args.name,
        "proposer": "random",
        "target": "max",
        "n_samples": args.jobs,
        "script": "examples/random_search.py",
        "parameter_config": [
            {"name": "lr", "range": [0.01, 0.5], "type": "float"},
            {"name": "dropout", "range": [0.0, 0.5], "type": "float"},
        ],
        "resource_args": {"multi_res_labels": ["accuracy", "loss"]},
    }
    eid = connector.start_experiment(args.user, experiment)
    [rid] = connector.get_available_resource(args.user, "cpu")[:1] or [None]
    if rid is None:
        raise SystemExit("no free cpu resource: run python manage.py aup_setup --user NAME --cpu 1")

    for index in range(args.jobs):
        config = {"lr": rng.uniform(0.01, 0.5), "dropout": rng.uniform(0.0, 0.5)}
        jid = connector.job_started(eid, rid, config)
        if index == 1:  # the first attempt of the second job crashes and is retried
            connector.job_failed(rid, jid)
            connector.job_retry(rid, jid)
        score = train(connector, eid, jid, config, args.steps)
        connector.job_finished(rid, jid, score, "FINISHED")

    connector.end_experiment(eid)
    print(f"experiment {eid} ({experiment['name']}): best job and score {connector.get_best_result(eid)}")
    connector.close()


if __name__ == "__main__":
    main()
