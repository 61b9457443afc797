"""What an analysis ranks jobs by: the score, or one labeled result, each with its direction.

Every chart and panel that says "best" (history and best so far, the best job, slice and
contour, parallel coordinates, importance, comparisons) asks this module which way is
better, so that no two of them can disagree. The score follows the experiment's target
(``target`` in its config, "max" unless "min"). A labeled result follows the direction
its experiment's owner stored on its ResultLabel; until then, a name that reads as a
cost (a loss, an error, ...) is lower-is-better and any other follows the target.

An objective is named in URLs and the API by its key: ``score``, or a label's order as
text ("1" for the experiment's first label), as the curves chart's series already is.
"""

import re
from dataclasses import dataclass

from tracking.models import Direction, ResultLabel

SCORE = "score"

# Words that name a quantity to minimise, matched as whole words or word parts of a
# label's name ("val_loss", "top1-error", "MSE", "wall time"). Anything else follows the
# experiment's target: an "accuracy" beside a score that is an accuracy is maximised,
# and in a min-target experiment a label named "score" stays minimised.
LOWER_IS_BETTER = re.compile(
    r"(?:^|[^a-z])(loss|error|err|mse|mae|rmse|nll|perplexity|ppl|regret|latency|cost|time|duration)(?:[^a-z]|$)",
    re.IGNORECASE,
)


def default_maximizes(name, target_maximizes):
    """Which way a labeled result called `name` is better until its owner says: False
    (lower is better) for a name that reads as a cost, else the experiment's target."""
    if isinstance(name, str) and LOWER_IS_BETTER.search(name):
        return False
    return target_maximizes


@dataclass(frozen=True)
class Objective:
    """The score, or one labeled result, with the direction in which it is better.

    ``key`` names it in URLs and the API ("score", or the label order as text);
    ``label_order`` is None for the score; ``declared`` says whether the direction was
    set by a person (a label's stored direction, the experiment's target) or guessed by
    default_maximizes.
    """

    key: str
    name: str
    maximize: bool
    label_order: int | None = None
    declared: bool = True

    @property
    def is_score(self):
        return self.label_order is None

    @property
    def direction(self):
        return Direction.MAX if self.maximize else Direction.MIN

    def as_dict(self):
        """The objective as the API and chart payloads spell it."""
        return {
            "key": self.key,
            "name": self.name,
            "label_order": self.label_order,
            "direction": str(self.direction),
            "declared": self.declared,
        }


def score_objective(experiment):
    return Objective(key=SCORE, name="score", maximize=experiment.maximize)


def label_objective(experiment, label):
    """The objective of `label` (a ResultLabel of `experiment`)."""
    if label.direction:
        maximize, declared = label.direction == Direction.MAX, True
    else:
        maximize, declared = default_maximizes(label.name, experiment.maximize), False
    return Objective(
        key=str(label.label_order), name=label.name, maximize=maximize, label_order=label.label_order, declared=declared
    )


def objectives(experiment, labels):
    """The score's objective, then one per label of `labels` (ResultLabels of
    `experiment`, in order). No query."""
    return [score_objective(experiment), *(label_objective(experiment, label) for label in labels)]


def parse_key(text):
    """`text` as an objective key: "score", or a label order (ASCII digits, 1 to 10**9);
    None when it is neither."""
    if text == SCORE:
        return SCORE
    if isinstance(text, str) and re.fullmatch(r"[1-9][0-9]{0,8}", text, re.ASCII):
        return text
    return None


def find(experiment, labels, key):
    """The objective named `key` in `experiment` (the score, or its label of that order):
    the one lookup of pages and API. Looked up among `labels` (ResultLabels of
    `experiment` already read, or none: []) first, with no query, then among the
    experiment's other labels (one query). None when `key` is malformed or names no
    label of the experiment."""
    key = parse_key(key)
    if key is None:
        return None
    for choice in objectives(experiment, labels):
        if choice.key == key:
            return choice
    label = ResultLabel.objects.filter(experiment=experiment, label_order=int(key)).first()
    return None if label is None else label_objective(experiment, label)
