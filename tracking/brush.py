"""The parallel-coordinates brush: which jobs a researcher has brushed, in the URL and in SQL.

A brush is a set of conditions, one per brushed axis, ANDed. It lives in the experiment
page's query string, one key per axis, each key starting with ``b.``:

- a hyperparameter with numbers: ``b.lr=0.0001..0.01`` (inclusive; either end may be
  left out: ``b.dropout=..0.3``). Values are in the parameter's own units, a log axis
  included;
- a hyperparameter with categories: ``b.optimizer=in:adam,sgd`` (the categories as the
  axis names them: a string as itself, a number, ``true``, ``false`` or ``null`` as JSON
  writes them; a comma or backslash inside a category is written ``\\,`` or ``\\\\``);
- the objective: ``b.@score=0.8..`` or ``b.@2=..0.35`` (``@`` then the objective's key,
  tracking.objectives: the score, or a labeled result by its label order). A
  hyperparameter whose name starts with ``@`` is written with the ``@`` doubled
  (``b.@@name``), so that the two never collide.

parse() reads them. A page ignores a malformed key or one naming no axis of the
experiment (as every page query value, tracking/views.py); a JSON endpoint refuses it
(BrushError, a 400 with the message). apply() turns the brush into a filter of a Job
QuerySet, evaluated by the database (JSON key lookups on ``config``; the objective
through JobQuerySet.with_objective), so that the jobs table, its counts, its pages, the
exports and the charts all follow it at any size, on SQLite and PostgreSQL alike.
"""

import hashlib
import json
import math
import re
from dataclasses import dataclass

from django.db.models import Q
from django.db.models.fields.json import KeyTransform

from tracking import objectives

PREFIX = "b."
OBJECTIVE_MARK = "@"
SET_PREFIX = "in:"
# Bounds on what one URL may ask: axes brushed at once, an axis name, categories of one axis.
MAX_BRUSHES = 40
MAX_NAME_CHARS = 200
MAX_CATEGORIES = 200
# JSON has no infinity: an open end of a range is this far. Both ends are always
# compared, so that only numbers pass a range on both databases (PostgreSQL orders
# jsonb strings below numbers and booleans above them; SQLite orders text above numbers).
FAR = 1.7976931348623157e308
# ASCII only: a Unicode digit passes \d in Python.
NUMBER = r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?"
_RANGE = re.compile(rf"({NUMBER})?\.\.({NUMBER})?", re.ASCII)


class BrushError(ValueError):
    """A brush key a JSON endpoint cannot use: answered 400 with this message."""


@dataclass(frozen=True)
class Condition:
    """One brushed axis: a hyperparameter (``parameter``) or an objective (``objective``),
    kept between ``low`` and ``high`` (None: open) or within ``categories`` (texts)."""

    key: str
    parameter: str | None = None
    objective: objectives.Objective | None = None
    low: float | None = None
    high: float | None = None
    categories: tuple | None = None

    @property
    def value(self):
        """The condition as the URL writes it (the part after ``=``)."""
        if self.categories is not None:
            return SET_PREFIX + ",".join(escape(text) for text in self.categories)
        return f"{number_text(self.low)}..{number_text(self.high)}"

    def as_dict(self):
        out = {"key": self.key, "value": self.value}
        if self.categories is not None:
            out["categories"] = list(self.categories)
        else:
            out.update(low=self.low, high=self.high)
        return out

    def narrow(self, jobs, alias, experiment_id):
        """`jobs` narrowed to those inside this condition; `alias` names the config
        key's expression (a parameter's name may hold "__", which a
        "config__<name>__gte" keyword would split). No query of its own."""
        if self.objective is not None:
            from tracking.models import Job

            inside = Job.objects.filter(experiment_id=experiment_id).with_objective(self.objective.label_order)
            inside = inside.filter(
                objective_value__gte=-FAR if self.low is None else self.low,
                objective_value__lte=FAR if self.high is None else self.high,
            )
            return jobs.filter(pk__in=inside.values("pk"))
        jobs = jobs.alias(**{alias: KeyTransform(self.parameter, "config")})
        if self.categories is None:
            return jobs.filter(**{
                f"{alias}__gte": -FAR if self.low is None else self.low,
                f"{alias}__lte": FAR if self.high is None else self.high,
            })
        values, null = [], False
        for text in self.categories:
            for value in category_values(text):
                if value is None:
                    null = True
                elif not any(type(seen) is type(value) and seen == value for seen in values):
                    # By type too: True == 1 in Python, but not in JSON.
                    values.append(value)
        wanted = Q(**{f"{alias}__in": values}) if values else Q(pk__in=[])
        if null:
            # JSON null, not a missing key.
            wanted |= Q(**{alias: None})
        return jobs.filter(wanted)


@dataclass(frozen=True)
class Brush:
    """The conditions of a brush (possibly none), for one experiment."""

    experiment_id: int
    conditions: tuple = ()

    def __bool__(self):
        return bool(self.conditions)

    def query_items(self):
        """[(query key, value)] in a stable order: links, cache keys."""
        return [(PREFIX + c.key, c.value) for c in self.conditions]

    def cache_key(self):
        """The brush as text for a cache key: "" without one; else a digest of its JSON
        (never ambiguous, whatever a parameter's name holds, and short and plain
        enough for any cache backend)."""
        if not self.conditions:
            return ""
        return hashlib.sha256(json.dumps(self.query_items()).encode()).hexdigest()[:32]

    def q(self):
        """A Q on Job keeping the jobs inside the brush (for an aggregate's filter)."""
        from tracking.models import Job

        if not self.conditions:
            return Q()
        return Q(pk__in=self.apply(Job.objects.filter(experiment_id=self.experiment_id)).values("pk"))

    def apply(self, jobs):
        """`jobs` (a Job QuerySet of this brush's experiment) narrowed to those inside
        every condition, in the database. No query until evaluated; an objective
        condition adds a subquery (on the (experiment, score) index, or on the final
        labeled results)."""
        for index, condition in enumerate(self.conditions):
            jobs = condition.narrow(jobs, f"_brush_{index}", self.experiment_id)
        return jobs

    def as_list(self):
        return [c.as_dict() for c in self.conditions]


def number_text(value):
    """A bound as the URL writes it: "" for an open end, the shortest exact text otherwise."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def escape(text):
    return text.replace("\\", "\\\\").replace(",", "\\,")


def split_categories(text):
    """The categories of ``in:a,b\\,c``'s body, unescaped; None when an escape is broken."""
    items, current, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 >= len(text) or text[index + 1] not in "\\,":
                return None
            current.append(text[index + 1])
            index += 2
            continue
        if char == ",":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    items.append("".join(current))
    return items


def category_text(value):
    """The name of a category on an axis and in the URL: a string as itself, anything
    else (a number, true, false, null) as its JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return str(value)


def category_values(text):
    """The config values a category name stands for: the string itself and, when the
    name is a JSON number, true, false or null, that value too (a config may hold 64 or
    "64"; a category never tells which)."""
    values = [text]
    if text in ("true", "false", "null") or re.fullmatch(NUMBER, text, re.ASCII):
        try:
            value = json.loads(text)
        except ValueError:
            return values
        if not (isinstance(value, float) and not math.isfinite(value)):
            values.append(value)
    return values


def declared_parameters(experiment):
    """The names of the parameters the experiment's ``parameter_config`` declares, in
    order ([] when it declares none: any name may then be brushed). No query."""
    config = experiment.config if isinstance(experiment.config, dict) else {}
    entries = config.get("parameter_config")
    names = []
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"] not in names:
            names.append(entry["name"])
    return names


def _parameter_name_usable(name):
    # Django reads a key that int() accepts as an array index ($[0], -> 0): such a
    # parameter cannot be looked up by name, so it cannot be brushed.
    try:
        int(name)
    except ValueError:
        return 0 < len(name) <= MAX_NAME_CHARS
    return False


def _parse_range(text):
    match = _RANGE.fullmatch(text)
    if not match or (match.group(1) is None and match.group(2) is None):
        return None
    low = float(match.group(1)) if match.group(1) is not None else None
    high = float(match.group(2)) if match.group(2) is not None else None
    if any(v is not None and not math.isfinite(v) for v in (low, high)):
        return None
    if low is not None and high is not None and low > high:
        return None
    return low, high


def parse(query, experiment, strict=False, labels=()):
    """The brush of `query` (a QueryDict: request.GET) for `experiment`.

    A key must start with ``b.`` and name a declared parameter (any name when the
    experiment declares none) or an objective of the experiment, and its value be a
    range or a set of categories (only a range for an objective). With `strict` a bad
    key raises BrushError; without, it is left out. `labels` are ResultLabels already
    read; a brushed label not among them costs one query (all of them at once).
    """
    declared = set(declared_parameters(experiment))
    raw = [(key, query.getlist(key)) for key in query.keys() if key.startswith(PREFIX)]
    problems, pending = [], []
    if len(raw) > MAX_BRUSHES:
        if strict:
            raise BrushError(f"at most {MAX_BRUSHES} brushed axes (b.* keys) at once")
        raw = raw[:MAX_BRUSHES]
    for key, values in raw:
        name = key[len(PREFIX):]
        value = values[-1] if values else ""
        if len(values) != 1:
            problems.append(f"{key} is given {len(values)} times; give it once")
            continue
        if "\x00" in value or len(value) > 5000:
            problems.append(f"{key} is malformed")
            continue
        if name.startswith(OBJECTIVE_MARK) and not name.startswith(OBJECTIVE_MARK * 2):
            okey = objectives.parse_key(name[1:])
            span = _parse_range(value)
            if okey is None:
                problems.append(f"{key}: an objective is @score or @ and a label number")
            elif span is None:
                problems.append(f"{key} must be a range low..high (numbers, either end may be left out)")
            else:
                pending.append((key, name, okey, "range", span))
            continue
        parameter = name[1:] if name.startswith(OBJECTIVE_MARK * 2) else name
        if not _parameter_name_usable(parameter) or (declared and parameter not in declared):
            problems.append(f"{key} names no parameter of this experiment")
            continue
        if value.startswith(SET_PREFIX):
            categories = split_categories(value[len(SET_PREFIX):])
            if categories is None or not value[len(SET_PREFIX):] or len(categories) > MAX_CATEGORIES:
                problems.append(
                    f"{key} must be in: and at most {MAX_CATEGORIES} comma-separated categories "
                    "(a comma or backslash in one written \\, or \\\\)"
                )
                continue
            pending.append((key, name, None, "set", tuple(dict.fromkeys(categories))))
            continue
        span = _parse_range(value)
        if span is None:
            problems.append(f"{key} must be a range low..high (numbers, either end may be left out) or in:a,b")
            continue
        pending.append((key, name, None, "range", span))
    # The labels brushed on, read at once: one query when any is not among `labels`.
    known = {str(label.label_order): label for label in labels}
    wanted = {okey for _, _, okey, _, _ in pending if okey not in (None, objectives.SCORE) and okey not in known}
    if wanted:
        for label in experiment.result_labels.filter(label_order__in=[int(k) for k in wanted]):
            known[str(label.label_order)] = label
    conditions = []
    for key, name, okey, kind, span in pending:
        if okey is not None:
            if okey == objectives.SCORE:
                objective = objectives.score_objective(experiment)
            elif okey in known:
                objective = objectives.label_objective(experiment, known[okey])
            else:
                problems.append(f"{key} names no labeled result of this experiment")
                continue
            conditions.append(Condition(key=name, objective=objective, low=span[0], high=span[1]))
        elif kind == "set":
            conditions.append(Condition(key=name, parameter=_parameter(name), categories=span))
        else:
            conditions.append(Condition(key=name, parameter=_parameter(name), low=span[0], high=span[1]))
    if strict and problems:
        raise BrushError("; ".join(problems))
    conditions.sort(key=lambda c: c.key)
    return Brush(experiment_id=experiment.pk, conditions=tuple(conditions))


def _parameter(name):
    return name[1:] if name.startswith(OBJECTIVE_MARK * 2) else name
