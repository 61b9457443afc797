"""The slice and contour plots' shaping (tracking/charts.py): declared log axes, declared
category order, a contour binned into a bounded grid, and the objective's direction."""

import random

from tracking import charts

PARAMETERS = [
    {"name": "lr", "range": [0.001, 0.005], "type": "float", "log": True},
    {"name": "width", "range": [1, 1000], "type": "int"},
    {"name": "optimizer", "range": ["sgd", "adam", "rmsprop"], "type": "choice"},
]


def jobs_of(configs, values):
    return [(100 + i, i + 1, config, value) for i, (config, value) in enumerate(zip(configs, values))]


def contour_of(axes, jobs, pair, maximize):
    """charts.contour of `jobs` (id, number, config, value), from their slices' columns."""
    series = charts.parameter_series([(a["name"], a["kind"], a["categories"]) for a in axes], jobs)
    return charts.contour(axes, series, pair, maximize, total=len(jobs))


def test_it_draws_a_declared_log_parameter_on_a_log_axis_whatever_its_span():
    # lr spans less than a decade (0.001 to 0.004): declared log, so a log axis anyway.
    configs = [{"lr": 0.001 * (i + 1), "width": 10 + i, "optimizer": "adam"} for i in range(4)]
    payload = charts.history_payload(
        {"rows": [(jid, n, v, c) for jid, n, c, v in jobs_of(configs, [0.1, 0.2, 0.3, 0.4])],
         "total": 4, "non_finite": 0, "sampled": False},
        True, PARAMETERS,
    )
    scales = {axis["name"]: axis["scale"] for axis in payload["params"]["axes"]}
    # width is not declared log and spans 10 to 13: linear.
    assert scales == {"lr": "log", "width": "linear", "optimizer": "linear"}


def test_it_keeps_the_two_decade_rule_for_a_parameter_not_declared_log():
    assert charts.axis_scale("number", [1, 50], declared_log=False) == "linear"
    assert charts.axis_scale("number", [1, 100], declared_log=False) == "log"
    assert charts.axis_scale("number", [0.002, 0.003], declared_log=True) == "log"
    # A log axis cannot place 0 or a negative value, declared or not.
    assert charts.axis_scale("number", [0, 0.1, 10], declared_log=True) == "linear"
    assert charts.axis_scale("category", [0, 1], declared_log=True) == "linear"


def test_it_reads_the_declared_log_scale_from_log_or_scale():
    assert charts.declares_log({"name": "lr", "log": True})
    assert charts.declares_log({"name": "lr", "scale": "Log"})
    assert not charts.declares_log({"name": "lr", "log": "yes"})
    assert not charts.declares_log({"name": "lr"})
    assert not charts.declares_log(None)


def test_it_puts_categories_in_their_declared_order_then_the_undeclared_ones():
    configs = [{"optimizer": "adam"}, {"optimizer": "momentum"}, {"optimizer": "sgd"}]
    axes = charts.parameter_axes(PARAMETERS, configs)
    optimizer = next(axis for axis in axes if axis[0] == "optimizer")
    # Declared order (sgd, adam, rmsprop), an undeclared value after them.
    assert optimizer == ("optimizer", "category", ["sgd", "adam", "rmsprop", "momentum"])
    series = charts.parameter_series([optimizer], jobs_of(configs, [0.5, 0.7, 0.9]))
    assert series["optimizer"][0] == [0, 1, 3]  # sgd, adam, momentum by their declared index
    assert series["optimizer"][1] == [0.9, 0.5, 0.7]
    # "choices" and "values" are declarations too.
    assert charts.declared_choices({"choices": [3, 1, 2]}) == ["3", "1", "2"]
    assert charts.declared_choices({"values": ["b", "a", "b"]}) == ["b", "a"]
    assert charts.declared_choices({"range": [0.1, 1.0], "type": "float"}) == []


def test_it_bins_the_contour_into_at_most_30_by_30_cells_whatever_the_number_of_jobs():
    rng = random.Random(7)
    configs = [{"lr": 10 ** rng.uniform(-4, -1), "width": rng.randint(1, 1000), "optimizer": "sgd"} for _ in range(5000)]
    values = [rng.random() for _ in configs]
    rows = [(jid, n, v, c) for jid, n, c, v in jobs_of(configs, values)]
    payload = charts.history_payload(
        {"rows": rows, "total": 5000, "non_finite": 0, "sampled": False}, True, PARAMETERS, pair=("lr", "width")
    )
    contour = payload["contour"]
    assert contour["x"]["name"] == "lr" and contour["y"]["name"] == "width"
    assert len(contour["x"]["edges"]) == len(contour["y"]["edges"]) == charts.CONTOUR_CELLS + 1
    assert len(contour["cells"]) <= charts.CONTOUR_CELLS**2
    assert all(0 <= i < 30 and 0 <= j < 30 for i, j, *_ in contour["cells"])
    assert sum(cell[2] for cell in contour["cells"]) == contour["jobs"] == 5000
    # lr is declared log: its cells are equal in log space (each edge ~1.26x the last).
    edges = contour["x"]["edges"]
    ratios = [b / a for a, b in zip(edges, edges[1:])]
    assert max(ratios) / min(ratios) < 1.01


def test_it_colours_each_cell_by_its_best_in_the_objectives_direction():
    configs = [{"lr": 0.001, "optimizer": "sgd"}, {"lr": 0.001, "optimizer": "sgd"}, {"lr": 0.1, "optimizer": "adam"}]
    jobs = jobs_of(configs, [0.2, 0.6, 0.4])
    axes = [
        {"name": "lr", "kind": "number", "categories": [], "scale": "log"},
        {"name": "optimizer", "kind": "category", "categories": ["sgd", "adam", "rmsprop"], "scale": "linear"},
    ]
    higher = contour_of(axes, jobs, ("lr", "optimizer"), maximize=True)
    lower = contour_of(axes, jobs, ("lr", "optimizer"), maximize=False)
    # Two cells: (lowest lr, sgd) holds two jobs, (highest lr, adam) one.
    assert higher["cells"] == [[0, 0, 2, 0.6, 0.4], [1, 1, 1, 0.4, 0.4]]
    assert lower["cells"] == [[0, 0, 2, 0.2, 0.4], [1, 1, 1, 0.4, 0.4]]
    assert higher["range"] == [0.4, 0.6] and lower["range"] == [0.2, 0.4]
    assert higher["maximize"] is True and lower["maximize"] is False
    # Every declared category has its row, tried or not.
    assert higher["y"]["categories"] == ["sgd", "adam", "rmsprop"]


def test_it_chooses_the_contours_pair_and_leaves_out_jobs_without_both():
    assert charts.contour_pair(["a"]) is None
    assert charts.contour_pair(["a", "b", "c"]) == ("a", "b")
    assert charts.contour_pair(["a", "b", "c"], "c", "a") == ("c", "a")
    assert charts.contour_pair(["a", "b", "c"], "c", "c") == ("c", "a")  # never one parameter twice
    assert charts.contour_pair(["a", "b", "c"], "zzz", "b") == ("a", "b")
    axes = [{"name": "a", "kind": "number", "categories": [], "scale": "linear"},
            {"name": "b", "kind": "number", "categories": [], "scale": "linear"}]
    result = contour_of(axes, jobs_of([{"a": 1, "b": 2}, {"a": 3}, {"a": 2, "b": 5}], [1.0, 2.0, 3.0]), ("a", "b"), True)
    assert result["jobs"] == 2 and result["left_out"] == 1
    assert charts.contour(axes, {}, None, True) is None


def test_it_names_the_objective_in_the_history_notes_and_ranks_by_its_direction():
    rows = [(1, 1, 0.9, {"lr": 0.1}), (2, 2, 0.5, {"lr": 0.2}), (3, 3, 0.7, {"lr": 0.3}), (4, 4, 0.2, {"lr": 0.4})]
    payload = charts.history_payload(
        {"rows": rows, "total": 5, "non_finite": 1, "sampled": False}, False, None, name="loss"
    )
    assert payload["best"] == [[1, 2, 4], [0.9, 0.5, 0.2]]  # lower is better: the best so far goes down
    assert "no finite loss" in payload["note"]
    assert payload["contour"] is None  # one parameter: no pair to plot
