"""Side-by-side measurement: variants run interleaved (A B A B ...) in one process, so
that whatever else the machine does falls on all of them alike; rows report medians,
the spread between the quartiles, and ratios of medians."""

import random
import statistics
import time
from dataclasses import asdict, dataclass, field


@dataclass
class Sample:
    """The timings of one variant, in seconds."""

    name: str
    times: list = field(default_factory=list)

    @property
    def median(self):
        return statistics.median(self.times)

    @property
    def spread(self):
        """(25th, 75th) percentile: how much one run may differ from the median."""
        if len(self.times) < 4:
            return (min(self.times), max(self.times))
        quartiles = statistics.quantiles(self.times, n=4)
        return (quartiles[0], quartiles[2])

    def as_dict(self):
        low, high = self.spread
        return {"name": self.name, "median_s": self.median, "p25_s": low, "p75_s": high, "runs": len(self.times)}


def interleaved(variants, rounds, warmup=1, shuffle=False):
    """Time each callable of `variants` ({name: fn}) `rounds` times, interleaved.

    Each fn does one unit of work and returns None (timed here) or its own duration
    in seconds (when it must exclude set-up from the timing). With shuffle, each round
    runs the variants in a new (seeded) order: a variant that leaves the disk busy (an
    fsync per statement) would otherwise always slow the one that follows it. Without
    it the order is fixed, for variants that rely on the one before (a cached page
    after its first open).
    """
    samples = {name: Sample(name) for name in variants}
    order = random.Random(20261125)
    names = list(variants)
    for round_number in range(warmup + rounds):
        if shuffle:
            order.shuffle(names)
        for name in names:
            work = variants[name]
            start = time.perf_counter()
            measured = work()
            elapsed = time.perf_counter() - start if measured is None else measured
            if round_number >= warmup:
                samples[name].times.append(elapsed)
    return samples


@dataclass
class Row:
    """One line of the report: a figure, what it is compared with, and the target."""

    row: str
    measure: str
    value: float
    unit: str
    target: str
    met: bool
    detail: str = ""

    def as_dict(self):
        return asdict(self)


def fmt_time(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_sample(sample):
    low, high = sample.spread
    return f"{fmt_time(sample.median)} [{fmt_time(low)}–{fmt_time(high)}]"


def print_table(rows, out):
    headers = ("row", "measure", "value", "target", "met", "absolute times: median [p25–p75]")
    table = [headers] + [
        (row.row, row.measure, f"{row.value:.3g}{row.unit}", row.target, "yes" if row.met else "NO", row.detail)
        for row in rows
    ]
    widths = [max(len(str(line[index])) for line in table) for index in range(len(headers))]
    for number, line in enumerate(table):
        out.write("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip() + "\n")
        if number == 0:
            out.write("  ".join("-" * width for width in widths) + "\n")
