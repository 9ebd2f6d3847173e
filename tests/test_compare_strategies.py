"""benchmarks/compare_strategies.py: the paired comparison the default strategy's decisions rest on."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import compare_strategies as compare  # noqa: E402


def test_paired_differences_are_per_seed_means_with_their_standard_error():
    rows = []
    # Seed 0: B is 0.02 above A at 60 and 0.04 above at 70 -> +0.03; seed 1: +0.01 at both.
    for seed, gains in ((0, (0.02, 0.04)), (1, (0.01, 0.01))):
        for n, gain in zip((60, 70), gains, strict=True):
            rows.append({"side": "a", "batch_size": 1, "split": 0, "seed": seed, "n_labels": n, "accuracy": 0.9})
            rows.append({"side": "b", "batch_size": 1, "split": 0, "seed": seed, "n_labels": n, "accuracy": 0.9 + gain})
    # Outside the range: ignored.
    rows.append({"side": "a", "batch_size": 1, "split": 0, "seed": 0, "n_labels": 200, "accuracy": 0.5})
    rows.append({"side": "b", "batch_size": 1, "split": 0, "seed": 0, "n_labels": 200, "accuracy": 1.0})
    result = compare.paired(pd.DataFrame(rows), [(60, 100)]).iloc[0]
    assert result["60-100"] == pytest.approx(0.02)
    assert result["60-100 se"] == pytest.approx(np.std([0.03, 0.01], ddof=1) / np.sqrt(2))
    assert result["seeds"] == 2
    assert result["a_to_90"] == 60 and result["b_to_90"] == 60
    assert pd.isna(result["a_to_95"])  # A never reaches 95 % in range
    assert result["b_to_95"] == 200  # labels-to reads the whole curve, not only the ranges


def test_a_strategy_against_itself_differs_by_exactly_zero():
    result = compare.main(
        ["--a", "neighbourhood", "--b", "NeighbourhoodMargin()", "--seeds", "2", "--splits", "0",
         "--batch", "10", "--budget", "30", "--ranges", "11-30", "--jobs", "1"]
    )
    assert len(result) == 1 and result.loc[0, "seeds"] == 2
    assert result.loc[0, "11-30"] == 0.0
    assert result.loc[0, "a_to_90"] == result.loc[0, "b_to_90"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [("NoSuchStrategy(3)", "NameError"), ("NeighbourhoodMargin(n_neighbours=0)", "n_neighbours"), ("3", "not a strategy")],
)
def test_a_bad_strategy_is_refused_before_any_run(spec, message):
    with pytest.raises(SystemExit, match=message):
        compare.main(["--b", spec, "--seeds", "1"])


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("--ranges", "100-60", "LOW-HIGH"), ("--ranges", "a-b", "e.g. 11-50"), ("--seeds", "abc", "whole numbers"),
     ("--seeds", "5:5", "no seed"), ("--splits", "0,x", "whole numbers"), ("--batch", "0", "at least 1"),
     ("--budget", "5", "below 11")],
)
def test_bad_options_are_refused_before_any_run(option, value, message):
    with pytest.raises(SystemExit, match=message):
        compare.main(["--b", "margin", option, value])
