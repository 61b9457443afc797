"""The argument checks both connectors share (tracking.interface), on their own.

The contract suite runs them through both connectors; these pin what each returns."""

import re

import pytest

from tracking.interface import (
    ID_RANGE,
    MAX_LABEL_LENGTH,
    MAX_LABELS,
    MAX_NESTING,
    InvalidInputError,
    check_labels,
    check_num_labels,
    check_results_query,
    check_scores,
    check_storable,
    check_text,
    lookup_ids,
    parse_experiment_call,
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


def test_it_bounds_the_labels_of_a_call_and_of_an_experiment():
    names = [f"l{order}" for order in range(MAX_LABELS)]
    assert check_labels(names, MAX_LABELS) == names
    assert check_scores([0.5] * MAX_LABELS) == [0.5] * MAX_LABELS
    assert check_num_labels(MAX_LABELS) == MAX_LABELS
    config = {"name": "x", "resource_args": {"multi_res_labels": names}}
    assert parse_experiment_call((config,), {}).config == config
    with pytest.raises(InvalidInputError, match=f"101 labels; an experiment has at most {MAX_LABELS}"):
        check_labels([*names, "one more"])
    with pytest.raises(InvalidInputError, match=f"at most {MAX_LABELS} labeled values"):
        check_scores([0.5] * (MAX_LABELS + 1))
    with pytest.raises(InvalidInputError, match=f"at most {MAX_LABELS} labeled results"):
        check_num_labels(2**63)
    with pytest.raises(InvalidInputError, match="resource_args.multi_res_labels: 101 labels"):
        parse_experiment_call((None, '{"resource_args": {"multi_res_labels": %s}}' % ([0] * 101)), {})


def test_the_label_name_limit_is_the_columns_size():
    from tracking.models import ResultLabel

    assert ResultLabel._meta.get_field("name").max_length == MAX_LABEL_LENGTH
    assert check_labels(["x" * MAX_LABEL_LENGTH]) == ["x" * MAX_LABEL_LENGTH]
    with pytest.raises(InvalidInputError, match=f"at most {MAX_LABEL_LENGTH} characters, not 256"):
        check_labels(["x" * 256])


@pytest.mark.parametrize(
    "args, message",
    [
        ((None, b"\xff{}"), "exp_config_blob is not UTF-8 text"),
        ((None, "[" * 100_000 + "]" * 100_000), f"exp_config_blob nests more than {MAX_NESTING} levels"),
        ((None, '{"a": "\\udfff"}'), "exp_config_blob contains a lone surrogate (U+DFFF)"),
        (("bad \udfff", "{}"), "the experiment name contains a lone surrogate"),
        (({"name": "bad \x00"},), "the experiment name contains a NUL character"),
    ],
    ids=["bytes", "deep-blob", "escaped-surrogate", "name", "name-in-exp_config"],
)
def test_parse_experiment_call_refuses_what_cannot_be_stored(args, message):
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        parse_experiment_call(args, {})


def test_check_text_refuses_what_cannot_be_stored():
    assert check_text("naïve ✓", "msg") == "naïve ✓"
    with pytest.raises(InvalidInputError, match="msg contains a NUL character"):
        check_text("a\x00", "msg")
