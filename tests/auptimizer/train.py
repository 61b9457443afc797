#!/usr/bin/env python3
"""A tiny training script for the Auptimizer interop tests.

Auptimizer runs it as `./train.py jobs/<jid>.json` from the experiment's folder and reads
every line `#Auptimizer:<score>,<accuracy>,<loss>` as one step: an intermediate score
and the two labeled results of resource_args.multi_res_labels; the last one is the job's
score. The line is printed here rather than with `from aup import print_result`, because
importing Auptimizer 2.0 fails on Python 3.11 without TensorFlow.

What a job does depends only on its hyperparameters, so that two runs of one experiment
with the same random seed agree job for job:

- x < 0.45: the first attempt crashes before reporting anything; the retry works.
- x > 0.7: two poor steps, then it keeps training until early stopping kills it.
- otherwise: two steps at 1.0, then its score 1 + x.
- mode "hang": one step, then it trains until it is killed (the stop tests).
- mode "stubborn": the same, but it ignores SIGTERM (as a script saving a checkpoint).
- mode "gpu": its score is the GPU id Auptimizer gave it in CUDA_VISIBLE_DEVICES.

Good steps all report 1.0 before the last one, so the median early-stopping policy
(every 2 steps) never stops a good job, whatever the timing, and always stops the poor one.
"""

import json
import os
import signal
import sys
import time
from pathlib import Path


def report(score, accuracy, loss):
    print(f"#Auptimizer:{score},{accuracy},{loss}", file=sys.stderr, flush=True)


def train_until_killed(seconds=60):
    # Auptimizer checks for an early stop each time the job prints a line.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        print("training...", flush=True)
        time.sleep(0.05)


def main(config_path):
    config = json.loads(Path(config_path).read_text())
    if config.get("mode") == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if config.get("mode") in ("hang", "stubborn"):
        Path("pids").mkdir(exist_ok=True)
        Path("pids", str(os.getpid())).touch()
        report(0.5, 0.5, 0.5)
        train_until_killed()
        report(0.6, 0.6, 0.4)
        return
    if config.get("mode") == "gpu":
        device = float(os.environ["CUDA_VISIBLE_DEVICES"])
        report(device, device, device)
        return
    x = config["x"]
    if x < 0.45:
        marker = Path(f"crashed-{x!r}")
        if not marker.exists():
            marker.touch()
            sys.exit("simulated crash on the first attempt")
    if x > 0.7:
        report(0.0, 0.0, 1.0)
        report(0.0, 0.1, 0.9)
        train_until_killed()
        report(0.0, 0.2, 0.8)  # never reached when early stopping works
        return
    report(1.0, 0.5, 0.5)
    report(1.0, 0.7, 0.3)
    report(1.0 + x, 0.9, 0.1)


if __name__ == "__main__":
    main(sys.argv[1])
