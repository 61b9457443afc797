"""The argument checks both connectors share (tracking.interface), on their own.

The contract suite runs them through both connectors; these pin what each returns."""

import re

import pytest

from tracking.interface import (
    ID_RANGE,
    MAX_NESTING,
    InvalidInputError,
    check_labels,
    check_num_labels,
    check_results_query,
    check_storable,
    check_text,
    lookup_ids,
)


def test_lookup_ids_keeps_only_the_ids_that_can_match():
    assert lookup_ids([3, None, ID_RANGE[-1] + 1, 5], "jids", "jid") == [3, 5]
    with pytest.raises(InvalidInputError, match="jids must be a list of ids, not int"):
        lookup_ids(3, "jids", "jid")
    with pytest.raises(InvalidInputError, match="jid must be an integer id, not '3'"):
        lookup_ids(["3"], "jids", "jid")


def test_check_labels_counts_only_when_told_to():
    assert check_labels(("a", "b")) == ["a", "b"]
    assert check_labels(["a"], 1) == ["a"] and check_labels([], 3) == [] and check_labels(None, 3) is None
    with pytest.raises(InvalidInputError, match="2 labels for 3 scores"):
        check_labels(["a", "b"], 3)
    with pytest.raises(InvalidInputError, match="labels must be a list of strings or None"):
        check_labels(["a", 1])


def test_check_num_labels_gives_an_int():
    assert check_num_labels(2) == 2 and type(check_num_labels(True + 1)) is int
    for value in (-1, True, 1.0, "2"):
        with pytest.raises(InvalidInputError, match="num_labels must be a non-negative integer"):
            check_num_labels(value)


def test_check_results_query_says_when_nothing_can_match():
    assert check_results_query(4, "FINISHED") == (4, "FINISHED")
    assert check_results_query(4, None) is None
    assert check_results_query(None, "FINISHED") is None
    with pytest.raises(InvalidInputError, match="is not a valid job status"):
        check_results_query(None, "DONE")


def test_check_text_refuses_what_is_not_a_string():
    assert check_text("", "msg") == ""
    with pytest.raises(InvalidInputError, match="username must be a string, not bytes"):
        check_text(b"alice", "username")


@pytest.mark.parametrize(
    "value, message",
    [
        ("a\x00b", "name contains a NUL character"),
        ("bad \udfff", "name contains a lone surrogate (U+DFFF)"),
        ({"lr": ["ok", {"deep": "\ud800"}]}, "name contains a lone surrogate (U+D800)"),
        ({"key\x00": 1}, "name contains a NUL character"),
    ],
)
def test_it_refuses_text_that_cannot_be_stored_or_shown(value, message):
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        check_storable(value, "name")


def test_it_refuses_nesting_deeper_than_the_limit_without_recursing():
    deep = "leaf"
    for _ in range(MAX_NESTING):
        deep = [deep]
    assert check_storable(deep, "config") is deep  # exactly the limit: accepted
    for _ in range(100_000):  # far past the interpreter's recursion limit
        deep = {"x": deep}
    with pytest.raises(InvalidInputError, match=f"config nests more than {MAX_NESTING} levels"):
        check_storable(deep, "config")


def test_it_lets_other_values_and_good_text_through():
    config = {"lr": 0.1, "layers": [1, 2, None], "name": "ünïcode ✓ 😀", "flag": True}
    assert check_storable(config, "config") is config
