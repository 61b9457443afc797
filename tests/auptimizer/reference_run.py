"""Run an Auptimizer experiment the way Auptimizer itself does, for the interop tests'
reference: Auptimizer's own database setup and its own SQLite connector.

    cd experiment-folder && python reference_run.py experiment.json --user alice --cpu 2

It does what ``python -m aup.setup`` and ``python -m aup experiment.json`` do (both
shells out or pull in Auptimizer's dashboard, whose web dependencies the tests do not
install): write ``.aup/env.ini``, create ``.aup/sqlite3.db`` with
``aup.setupdb.sqlite.create_database``, then ``Experiment(...).start()`` and
``finish()`` with the connector env.ini names. The only change is aupsite's import
workaround (Auptimizer 2.0 cannot be imported without TensorFlow otherwise).
"""

import argparse
import configparser
import json
from pathlib import Path

from tracking.interop.loader import import_auptimizer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment")
    parser.add_argument("--user", required=True)
    parser.add_argument("--cpu", type=int, default=2)
    parser.add_argument("--sleep", type=float, default=0.2)
    args = parser.parse_args()

    aup = import_auptimizer()
    from aup.setupdb import sqlite as setupdb

    folder = Path(".aup").resolve()
    folder.mkdir()
    config = configparser.ConfigParser()
    config.optionxform = str
    config["Auptimizer"] = {
        "Auptimizer_PATH": str(folder),
        "TMP_FOLDER": str(folder / "tmp"),
        "SQL_ENGINE": "sqlite",
        "SQLITE_FILE": str(folder / "sqlite3.db"),
    }
    with open(folder / "env.ini", "w") as stream:
        config.write(stream)
    setupdb.create_database(config, [args.user], args.cpu, "localhost")

    experiment = aup.Experiment(
        aup.BasicConfig().load(args.experiment),
        username=args.user,
        auppath=str(folder),
        sleep_time=args.sleep,
        request_stop_time=args.sleep,
    )
    experiment.start()
    print(json.dumps(list(experiment.finish())))


if __name__ == "__main__":
    main()
