"""Cohen's and Fleiss' kappa, and the disagreements table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from superintendent_core.service.agreement import (
    agreement,
    cohen_kappa,
    disagreements,
    fleiss_kappa,
    rating_counts,
    rating_table,
)

# Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa" page: 10 items, 14 raters, 5 categories;
# P̄ = 0.378, P̄e = 0.213, κ = 0.210.
WIKIPEDIA_TABLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def frame(rows: list[tuple[int, str, str]]) -> pd.DataFrame:
    """(item_id, labeller, label) rows → a labels table like ``store.labels()``."""
    start = pd.Timestamp("2026-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "item_id": np.array([r[0] for r in rows], dtype=np.int64),
            "name": [f"item-{r[0]}.png" for r in rows],
            "label": [r[2] for r in rows],
            "labeller": [r[1] for r in rows],
            "time": [start + pd.Timedelta(seconds=i) for i in range(len(rows))],
            "seconds": np.full(len(rows), np.nan),
        }
    )


# --------------------------------------------------------------------------- Cohen


@pytest.mark.parametrize("seed", range(8))
def test_cohen_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    a = rng.choice(list("abcd"), n)
    # b agrees with a most of the time so kappa is not always ~0
    b = np.where(rng.random(n) < 0.6, a, rng.choice(list("abcde"), n))
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_cohen_hand_example():
    # 2×2 table: yes/yes 20, yes/no 5, no/yes 10, no/no 15 (Wikipedia's Cohen example): κ = 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_edge_cases():
    assert cohen_kappa(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(cohen_kappa(["a", "a"], ["a", "a"]))  # undefined, like sklearn
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa(["a"], ["a", "b"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("xyz"), st.sampled_from("xyzw")), min_size=1, max_size=50)
)
def test_cohen_property_matches_sklearn(pairs):
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    ours = cohen_kappa(a, b)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = cohen_kappa_score(a, b)
    if math.isnan(theirs):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)
        assert -1.0 - 1e-9 <= ours <= 1.0 + 1e-9


# --------------------------------------------------------------------------- Fleiss


def test_fleiss_wikipedia_example():
    assert fleiss_kappa(WIKIPEDIA_TABLE) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_small_hand_example():
    # 4 items, 3 raters, categories A/B: AAA, AAB, BBB, ABB.
    # P_i = 1, 1/3, 1, 1/3 → P̄ = 2/3; shares A = B = 1/2 → P̄e = 1/2; κ = (2/3 − 1/2)/(1/2) = 1/3.
    assert fleiss_kappa([[3, 0], [2, 1], [0, 3], [1, 2]]) == pytest.approx(1 / 3)


def test_fleiss_with_two_raters_is_scotts_pi():
    # Scott's pi for the Cohen example above: p_o = 0.7, pooled shares yes = 55/100, no = 45/100,
    # p_e = 0.55² + 0.45² = 0.505 → π = (0.7 − 0.505)/(0.495) = 0.39394
    table = [[2, 0]] * 20 + [[1, 1]] * 5 + [[1, 1]] * 10 + [[0, 2]] * 15
    assert fleiss_kappa(table) == pytest.approx(0.195 / 0.495)


def test_fleiss_ignores_items_with_one_rating_and_handles_varying_raters():
    base = fleiss_kappa([[3, 0], [2, 1], [0, 3], [1, 2]])
    assert fleiss_kappa([[3, 0], [2, 1], [0, 3], [1, 2], [1, 0], [0, 0]]) == pytest.approx(base)
    # Varying raters: items with 2 and 4 raters. P_i = 1, 0, (2·1+2·1)/(4·3) = 1/3 → P̄ = 4/9;
    # shares A = (2+1+2)/8 = 5/8, B = 3/8 → P̄e = 34/64; κ = (4/9 − 34/64)/(1 − 34/64)
    expected = (4 / 9 - 34 / 64) / (1 - 34 / 64)
    assert fleiss_kappa([[2, 0], [1, 1], [2, 2]]) == pytest.approx(expected)


def test_fleiss_edge_cases():
    assert fleiss_kappa([[3, 0], [0, 3]]) == 1.0
    assert math.isnan(fleiss_kappa([[3], [3]]))
    assert math.isnan(fleiss_kappa(np.zeros((0, 3), dtype=int)))
    with pytest.raises(ValueError, match="table"):
        fleiss_kappa([1, 2, 3])
    with pytest.raises(ValueError, match="negative"):
        fleiss_kappa([[3, -1]])
    with pytest.raises(ValueError, match="whole numbers"):
        fleiss_kappa([[1.5, 0.5]])


# --------------------------------------------------------------------------- from the labels table


def test_two_labellers_use_cohen_and_match_sklearn():
    rng = np.random.default_rng(3)
    truth = rng.choice(["0", "1", "2"], 60)
    ann = np.where(rng.random(60) < 0.8, truth, rng.choice(["0", "1", "2"], 60))
    rows = [(i, "ann", ann[i]) for i in range(60)] + [(i, "bob", truth[i]) for i in range(40)]
    rows += [(100, "ann", "1")]  # labelled by one person only: not compared
    result = agreement(frame(rows))
    assert result.method == "cohen"
    assert result.n_items == 40 and result.n_labellers == 2
    assert result.kappa == pytest.approx(cohen_kappa_score(ann[:40], truth[:40]))
    assert result.observed == pytest.approx(float(np.mean(ann[:40] == truth[:40])))
    assert result.n_disagreements == int(np.sum(ann[:40] != truth[:40]))
    assert len(result.pairwise) == 1
    assert result.pairwise.loc[0, "kappa"] == pytest.approx(result.kappa)


def test_three_labellers_use_fleiss():
    # The 4-item hand example above, as a labels table.
    rows = []
    for item, answers in enumerate(["AAA", "AAB", "BBB", "ABB"]):
        for who, answer in zip(["ann", "bob", "cy"], answers, strict=True):
            rows.append((item, who, answer))
    result = agreement(frame(rows))
    assert result.method == "fleiss"
    assert result.kappa == pytest.approx(1 / 3)
    assert result.observed == pytest.approx(2 / 3)
    assert result.n_items == 4 and result.n_labellers == 3 and result.n_disagreements == 2
    assert set(zip(result.pairwise.labeller_a, result.pairwise.labeller_b, strict=True)) == {
        ("ann", "bob"),
        ("ann", "cy"),
        ("bob", "cy"),
    }
    counts = rating_counts(frame(rows))
    assert counts.to_numpy().tolist() == [[3, 0], [2, 1], [0, 3], [1, 2]]


def test_no_overlap_gives_no_kappa():
    result = agreement(frame([(0, "ann", "a"), (1, "bob", "b")]))
    assert result.method is None and math.isnan(result.kappa)
    assert result.n_items == 0 and result.pairwise.empty
    empty = agreement(frame([]))
    assert empty.method is None and empty.n_items == 0


def test_latest_label_per_labeller_counts():
    # The store keeps one label per labeller and item; should a table hold two, the latest wins.
    rows = [(0, "ann", "a"), (0, "bob", "b"), (0, "ann", "b")]
    assert agreement(frame(rows)).observed == 1.0
    assert disagreements(frame(rows)).empty


def test_rating_table():
    wide = rating_table(frame([(1, "bob", "x"), (0, "ann", "y"), (1, "ann", "x")]))
    assert list(wide.columns) == ["ann", "bob"]
    assert wide.index.tolist() == [0, 1]
    assert wide.loc[0, "bob"] is None and wide.loc[1, "bob"] == "x"


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="labeller"):
        agreement(pd.DataFrame({"item_id": [0], "label": ["a"]}))
    with pytest.raises(TypeError, match="labels DataFrame"):
        disagreements([(0, "ann", "a")])


# --------------------------------------------------------------------------- disagreements


def test_disagreements_table():
    rows = [
        (0, "ann", "3"), (0, "bob", "3"), (0, "cy", "5"),   # majority 3 (2/3)
        (1, "ann", "1"), (1, "bob", "7"),                    # tie
        (2, "ann", "2"), (2, "bob", "2"), (2, "cy", "2"),   # agreement: not listed
        (3, "ann", "4"),                                     # one label: not listed
        (4, "ann", "cat|dog"), (4, "bob", "cat"),            # multi-label: compared as a whole
    ]  # fmt: skip
    table = disagreements(frame(rows))
    assert table["item_id"].tolist() == [1, 4, 0]  # most contested first, then by id
    first = table.iloc[0]
    assert pd.isna(first["majority"]) and first["majority_share"] == 0.5
    assert first["by_labeller"] == "ann: 1, bob: 7"
    assert first["name"] == "item-1.png"
    last = table.iloc[2]
    assert last["majority"] == "3" and last["majority_share"] == pytest.approx(2 / 3)
    assert last["votes"] == "3 ×2, 5 ×1"
    assert last["n_labellers"] == 3
    assert table["item_id"].dtype == np.int64


def test_disagreements_empty_has_columns():
    table = disagreements(frame([(0, "ann", "a")]))
    assert table.empty
    assert "majority" in table.columns and "by_labeller" in table.columns
