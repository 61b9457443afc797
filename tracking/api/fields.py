"""Serializer fields for the values the connector takes: ids, scores, JSON configs.

They check the JSON types and what no database can store (NUL characters, lone
surrogates, nesting deeper than tracking.interface.MAX_NESTING: the interface's own
check_storable, so the API and both connectors refuse alike; integers beyond 64 bits);
what a value *means* is the connector's to check.
"""

import numbers

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tracking.interface import EXPERIMENT_STATUSES, JOB_STATUSES, InvalidInputError, check_storable
from tracking.scores import to_wire

# The range of the database's 64-bit id columns: beyond it SQLite's driver refuses to
# bind the value and PostgreSQL refuses to compare it.
ID_MIN, ID_MAX = -(2**63), 2**63 - 1


def storable(value, what):
    """`value` if it can be stored and shown (tracking.interface.check_storable), else a
    ValidationError in the interface's words."""
    try:
        return check_storable(value, what)
    except InvalidInputError as exc:
        message = str(exc)
        raise serializers.ValidationError(message[:1].upper() + message[1:] + ".") from None


# JSON bodies say what type a value has: an id is a JSON integer, never "3" or 3.0 (the
# connector refuses those too), a flag is true or false, a text is a string. DRF's own
# fields would coerce; these do not. (Query parameters are all text, and use DRF's.)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return storable(super().to_internal_value(data), "this text")


class QueryTextField(serializers.CharField):
    """A text in a query parameter: any text a database can compare (no NUL, which
    PostgreSQL refuses as a database error)."""

    def to_internal_value(self, data):
        return storable(super().to_internal_value(data), "this text")


def IdField(**kwargs):  # noqa: N802 - a field factory, read as a field class
    """An id in a JSON body."""
    return StrictIntegerField(min_value=ID_MIN, max_value=ID_MAX, **kwargs)


def IdQueryField(**kwargs):  # noqa: N802
    """An id in a query parameter."""
    return serializers.IntegerField(min_value=ID_MIN, max_value=ID_MAX, **kwargs)


@extend_schema_field(
    {
        "oneOf": [{"type": "number"}, {"type": "string"}],
        "nullable": True,
        "description": (
            "A number; or a text (Auptimizer's 'EARLY STOPPED'); or null. JSON has no NaN "
            "or infinity: they travel as the strings 'nan', 'inf' and '-inf' (a numeric "
            "string is stored as the number it spells, so nothing is lost)."
        ),
    }
)
class ScoreField(serializers.Field):
    """A score as the connector takes it, and as it comes back (see tracking.scores)."""

    default_error_messages = {
        "invalid": "A score must be a number, a string or null, not {kind}.",
        "too_large": "This number is too large for a score (no float holds it).",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (numbers.Real, str)):
            self.fail("invalid", kind=type(data).__name__)
        if isinstance(data, str):
            return storable(data, "a score text")
        try:
            float(data)
        except OverflowError:
            self.fail("too_large")
        return data

    def to_representation(self, value):
        return to_wire(value)


@extend_schema_field({})  # any JSON value
class JSONValueField(serializers.JSONField):
    """Any JSON value (a job's config, as Auptimizer stores any): what a database can store."""

    def to_internal_value(self, data):
        return storable(super().to_internal_value(data), "this config")


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object (a config): any keys and values a database can store."""

    default_error_messages = {"not_object": "Expected a JSON object, not {kind}."}

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            self.fail("not_object", kind=type(data).__name__)
        return storable(data, "this config")


class TextField(StrictCharField):
    """Free text kept exactly as given (no trimming); blank allowed."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


def _status_field(statuses, what, **kwargs):
    return StrictChoiceField(
        choices=list(statuses),
        error_messages={
            "invalid_choice": f"{{input!r}} is not a valid {what} status; use one of {', '.join(statuses)}"
        },
        **kwargs,
    )


def ExperimentStatusField(**kwargs):  # noqa: N802
    return _status_field(EXPERIMENT_STATUSES, "experiment", **kwargs)


def JobStatusField(**kwargs):  # noqa: N802
    """A job status, or null: Auptimizer ends a cancelled job with none."""
    kwargs.setdefault("allow_null", True)
    return _status_field(JOB_STATUSES, "job", **kwargs)
