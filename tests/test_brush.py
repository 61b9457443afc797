"""tracking/brush.py: the parallel-coordinates brush, read from the URL and applied in the database."""

import pytest
from django.http import QueryDict

from tests.factories import make_configured_experiment, make_configured_jobs
from tracking import brush

pytestmark = pytest.mark.django_db

PARAMETERS = [
    {"name": "lr", "range": [1e-4, 0.3], "type": "float", "log": True},
    {"name": "batch_size", "range": [32, 64, 128], "type": "choice"},
    {"name": "optimizer", "range": ["adam", "sgd", "a,b"], "type": "choice"},
    {"name": "my__depth", "range": [1, 8], "type": "int"},
    {"name": "@odd", "range": [0, 1], "type": "float"},
]


@pytest.fixture
def experiment(alice):
    experiment = make_configured_experiment(
        alice, parameter_config=PARAMETERS, resource_args={"multi_res_labels": ["accuracy", "loss"]}
    )
    make_configured_jobs(
        experiment,
        [
            ({"lr": 0.0001, "batch_size": 32, "optimizer": "adam", "my__depth": 1, "@odd": 0.1}, 0.2, {2: 0.9}),
            ({"lr": 0.001, "batch_size": 64, "optimizer": "sgd", "my__depth": 2, "@odd": 0.5}, 0.5, {2: 0.5}),
            ({"lr": 0.01, "batch_size": 128, "optimizer": "a,b", "my__depth": 4, "@odd": 0.9}, 0.9, {2: 0.1}),
            ({"lr": 0.1, "batch_size": "64", "optimizer": "adam", "my__depth": 8}, None, {}),
            ({"lr": "high", "batch_size": 64.0, "optimizer": "sgd", "my__depth": True}, 0.7, {2: 0.3}),
        ],
    )
    return experiment


def numbers(experiment, query, strict=False):
    parsed = brush.parse(QueryDict(query), experiment, strict=strict)
    return sorted(parsed.apply(experiment.jobs.all()).values_list("number", flat=True))


def test_it_keeps_a_numeric_range_inclusive_and_only_numbers(experiment):
    assert numbers(experiment, "b.lr=0.001..0.01") == [2, 3]
    # Open ends; a text value ("high") is never inside a range, on either database.
    assert numbers(experiment, "b.lr=..0.001") == [1, 2]
    assert numbers(experiment, "b.lr=0.01..") == [3, 4]
    # A bool is not a number in a range of depths either ... except that JSON true is
    # stored as 1 by SQLite: the axis of a mixed parameter is categorical anyway.
    assert numbers(experiment, "b.my__depth=2..8") == [2, 3, 4]


def test_it_reads_log_axis_values_in_the_parameters_own_units(experiment):
    assert numbers(experiment, "b.lr=1e-4..5e-4") == [1]
    assert numbers(experiment, "b.lr=1E-3..1.0e-2") == [2, 3]


def test_it_keeps_a_set_of_categories_whatever_their_json_type(experiment):
    # "64" names the number 64, 64.0 and the string "64" alike.
    assert numbers(experiment, "b.batch_size=in:64") == [2, 4, 5]
    assert numbers(experiment, "b.batch_size=in:32,128") == [1, 3]
    # A comma inside a category is escaped.
    assert numbers(experiment, r"b.optimizer=in:a\,b") == [3]
    assert numbers(experiment, r"b.optimizer=in:adam,a\,b") == [1, 3, 4]


def test_it_brushes_the_score_and_any_labeled_result(experiment):
    assert numbers(experiment, "b.@score=0.5..") == [2, 3, 5]
    assert numbers(experiment, "b.@2=..0.3") == [3, 5]


def test_it_ands_several_axes(experiment):
    assert numbers(experiment, "b.@score=0.5..&b.optimizer=in:sgd") == [2, 5]
    assert numbers(experiment, "b.@score=0.5..&b.optimizer=in:sgd&b.lr=..0.01") == [2]


def test_it_reads_names_with_underscores_and_a_leading_at(experiment):
    assert numbers(experiment, "b.@@odd=0.4..1") == [2, 3]


@pytest.mark.parametrize(
    "query, message",
    [
        ("b.lr=abc", "must be a range"),
        ("b.lr=0.3..0.1", "must be a range"),
        ("b.lr=..", "must be a range"),
        ("b.lr=1e999..", "must be a range"),
        ("b.lr=nan..1", "must be a range"),
        ("b.lr=１..2", "must be a range"),
        ("b.nothing=0..1", "names no parameter"),
        ("b.0=0..1", "names no parameter"),
        ("b.optimizer=in:", "must be in:"),
        ("b.optimizer=in:a\\", "must be in:"),
        ("b.@1=in:1", "must be a range"),
        ("b.@loss=0..1", "an objective is"),
        ("b.@9=0..1", "names no labeled result"),
        ("b.lr=0..1&b.lr=0..2", "given 2 times"),
    ],
)
def test_it_refuses_malformed_or_unknown_keys_when_strict_and_ignores_them_otherwise(experiment, query, message):
    with pytest.raises(brush.BrushError, match=message):
        brush.parse(QueryDict(query), experiment, strict=True)
    # A page ignores the bad key and keeps the good ones.
    assert numbers(experiment, query + "&b.@score=0.5..") == [2, 3, 5]


def test_it_ignores_other_keys_and_has_no_brush_without_b_keys(experiment):
    parsed = brush.parse(QueryDict("sort=score&objective=2&page=3&bad=1"), experiment, strict=True)
    assert not parsed and parsed.cache_key() == ""
    assert numbers(experiment, "sort=score") == [1, 2, 3, 4, 5]


def test_it_accepts_any_parameter_name_when_none_is_declared(alice):
    experiment = make_configured_experiment(alice)
    make_configured_jobs(experiment, [({"x": 1}, 0.1), ({"x": 5}, 0.2), ({"y": 3}, 0.3)])
    assert numbers(experiment, "b.x=2..", strict=True) == [2]


def test_it_writes_the_url_form_back_canonically(experiment):
    parsed = brush.parse(QueryDict(r"b.optimizer=in:sgd,a\,b&b.lr=0.001..&b.@score=..1"), experiment, strict=True)
    assert parsed.query_items() == [
        ("b.@score", "..1"),
        ("b.lr", "0.001.."),
        ("b.optimizer", r"in:sgd,a\,b"),
    ]
    assert parsed.cache_key() != brush.parse(QueryDict("b.lr=0.001.."), experiment).cache_key()


def test_it_reads_brushed_labels_in_one_query(experiment, django_assert_num_queries):
    # The labels brushed on, all at once (none for the score and parameters).
    with django_assert_num_queries(1):
        brush.parse(QueryDict("b.@1=0..1&b.@2=0..1&b.@score=0..1&b.lr=0..1"), experiment, strict=True)
    with django_assert_num_queries(0):
        brush.parse(QueryDict("b.@score=0..1&b.lr=0..1"), experiment, strict=True)
