"""The arrival patterns and the throughput/latency summary of the batching benchmark."""

from __future__ import annotations

import importlib.util
import itertools
import statistics
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_batching.py"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts benchmarks/ on sys.path; undone after
    spec = importlib.util.spec_from_file_location("bench_batching_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_simultaneous_arrivals_are_all_at_zero(bench: ModuleType) -> None:
    assert bench.arrivals(16, None, 3) == [0.0] * 16


def test_poisson_arrivals_are_seeded_ordered_and_at_the_asked_rate(bench: ModuleType) -> None:
    first = bench.arrivals(2000, 20.0, seed=1)
    assert first == bench.arrivals(2000, 20.0, seed=1)
    assert first != bench.arrivals(2000, 20.0, seed=2)
    assert first[0] == 0.0 and first == sorted(first)
    gaps = [later - earlier for earlier, later in itertools.pairwise(first)]
    assert statistics.mean(gaps) == pytest.approx(1 / 20.0, rel=0.1)
    assert statistics.pstdev(gaps) == pytest.approx(1 / 20.0, rel=0.15)  # exponential: standard deviation = mean


def test_the_offered_rate_is_the_one_the_drawn_arrivals_have(bench: ModuleType) -> None:
    assert bench.offered_rate([0.0, 0.5, 0.75, 2.0]) == pytest.approx(3 / 2.0)
    drawn = bench.arrivals(48, 10.0, seed=2)
    assert bench.offered_rate(drawn) == pytest.approx(47 / drawn[-1])
    assert bench.offered_rate(drawn) != pytest.approx(10.0, rel=0.01)  # a finite draw is not the asked rate


def test_summary_measures_throughput_over_the_span_and_latency_per_request(bench: ModuleType) -> None:
    arrived = [10.0, 10.5, 11.0, 11.5]
    done = [11.0, 11.5, 12.0, 14.0]  # latencies 1, 1, 1, 2.5; span 4 s
    measured = bench.summary([(arrived, done)])
    assert measured["throughput_rps"] == pytest.approx(4 / 4.0)
    assert measured["p50_s"] == pytest.approx(1.0)
    assert measured["p99_s"] == pytest.approx(2.5)


def test_sustained_throughput_leaves_out_the_first_quarter_of_completions(bench: ModuleType) -> None:
    arrived = [0.0] * 8
    done = [5.0, 5.0, 6.0, 6.0, 7.0, 7.0, 8.0, 8.0]  # a slow start, then 2 per second
    measured = bench.summary([(arrived, done)], sustained=True)
    assert measured["throughput_rps"] == pytest.approx(6 / (8.0 - 5.0))
