"""tracking.scores: one spelling of a score in the database columns and on the wire."""

import json
import math

import pytest

from tracking.scores import ScoreTypeError, decode_score, encode_score, from_wire, to_wire


@pytest.mark.parametrize(
    ("value", "wire"),
    [(None, None), (0.5, 0.5), (3, 3.0), (math.inf, "inf"), (-math.inf, "-inf"), ("EARLY STOPPED", "EARLY STOPPED"),
     ("1.5", "1.5")],
)
def test_it_spells_a_score_for_json(value, wire):
    assert to_wire(value) == wire
    assert json.dumps(to_wire(value), allow_nan=False) == json.dumps(wire)


def test_it_spells_nan_as_text():
    assert to_wire(math.nan) == "nan"
    assert math.isnan(from_wire("nan"))


@pytest.mark.parametrize("value", [None, 0.5, -2.0, math.inf, -math.inf, "EARLY STOPPED", ""])
def test_it_reads_back_what_it_spelled(value):
    assert from_wire(to_wire(value)) == value


@pytest.mark.parametrize("value", [True, [1.0], {"a": 1}, b"1", 10**400])
def test_it_refuses_what_is_no_score_on_the_wire_as_in_the_database(value):
    with pytest.raises(ScoreTypeError) as on_the_wire:
        to_wire(value)
    with pytest.raises(ScoreTypeError) as in_the_database:
        encode_score(value)
    assert str(on_the_wire.value) == str(in_the_database.value)


@pytest.mark.parametrize("value", [0.5, math.inf, -math.inf, "EARLY STOPPED", None])
def test_a_score_sent_over_the_wire_is_stored_as_the_score_itself(value):
    assert encode_score(to_wire(value)) == encode_score(value)
    assert decode_score(*encode_score(to_wire(value))) == value


@pytest.mark.parametrize("text", ["bad \udfff", "bad \x00"], ids=["surrogate", "nul"])
def test_it_refuses_a_score_text_that_cannot_be_stored_in_either_direction(text):
    # A ScoreTypeError, which both connectors answer as InvalidInputError.
    with pytest.raises(ScoreTypeError, match="a score text contains"):
        encode_score(text)
    with pytest.raises(ScoreTypeError, match="a score text contains"):
        to_wire(text)
