"""Label-error finder: how many planted label errors it puts at the top of its list.

Run: python3 benchmarks/bench_label_errors.py [--seeds 5] [--quick]

Protocol (issue 12, item 7): ``load_digits``, X / 16, the pool of
``benchmarks/bench_efficiency.py`` (``train_test_split(test_size=1/3, stratify=y,
random_state=0)``), ``LogisticRegression(max_iter=2000)`` (the app's default
model). 300 labelled items, chosen two ways:

* ``app``: as the app would choose them, the default strategy through
  ``simulate(..., batch_size=10, budget=300).queried`` (10 items served between
  retrains: the app's default when no automatic interval is set);
* ``random``: 300 pool items drawn uniformly.

10 % of their labels (30) are flipped to another class, uniformly. Figures per
seed, then the mean over seeds:

* ``recall@2F``: the share of the flipped labels among the first 2 × 30 = 60
  candidates (all candidates when the list is shorter) — the issue's figure, goal ≥ 70 %;
* ``prec@F``: the share of the first 30 candidates that are flipped;
* ``listed``: how many candidates the finder lists;
* ``today``: the old Review page's "Model disagrees" filter (the retrain's
  3-fold cross-validated predictions differing from the label; unsorted):
  its precision and recall;
* ``in-sample``: the same ranking from the fitted model's own predictions on
  its training labels (what "Model disagrees" fell back to without cross-validation).

Prints a table; saves ``benchmarks/results/label_errors.csv``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from threadpoolctl import threadpool_limits  # noqa: E402

from superintendent_core.learning.label_errors import METHODS, find_label_errors  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
N_LABELS = 300
FLIP = 0.10


def digits_pool():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y.astype(str), test_size=1 / 3, stratify=y, random_state=0)


def model():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000)


def chosen(selection: str, seed: int, X_pool, y_pool, X_test, y_test) -> np.ndarray:
    if selection == "random":
        return np.random.RandomState(seed).choice(len(y_pool), N_LABELS, replace=False)
    from superintendent_core.learning.simulation import simulate

    result = simulate(X_pool, y_pool, X_test, y_test, model(), strategy=None, initial=10, batch_size=10,
                      budget=N_LABELS, random_state=seed)
    return np.asarray(result.queried[:N_LABELS])


def flip(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(10_000 + seed)
    n_flip = round(FLIP * len(y))
    where = rng.choice(len(y), n_flip, replace=False)
    classes = np.unique(y)
    noisy = y.copy()
    for i in where:
        noisy[i] = rng.choice(classes[classes != y[i]])
    return noisy, np.sort(where)


def scores(ranked_ids: np.ndarray, flipped: np.ndarray) -> dict:
    F = len(flipped)
    flipped = set(flipped.tolist())
    top2 = ranked_ids[: 2 * F]
    top1 = ranked_ids[:F]
    return {
        "recall@2F": sum(i in flipped for i in top2) / F,
        "prec@F": sum(i in flipped for i in top1) / max(1, len(top1)) if len(top1) else float("nan"),
        "listed": len(ranked_ids),
    }


def today(X, y_noisy, flipped: np.ndarray, seed: int) -> dict:
    """The old "Model disagrees": the retrain's cross-validated predictions that differ from the label."""
    from superintendent_core.learning.learner import Learner

    result = Learner(model(), cv=3, random_state=seed).retrain(X, list(y_noisy), X[:0])
    flagged = np.flatnonzero(result.cv_predictions != y_noisy)
    hits = np.intersect1d(flagged, flipped)
    in_sample = result.model.predict_proba(X)
    col = {c: j for j, c in enumerate(result.model.classes_)}
    p_given = in_sample[np.arange(len(y_noisy)), [col[v] for v in y_noisy]]
    ranked = np.lexsort((np.arange(len(y_noisy)), p_given))
    return {
        "today_prec": len(hits) / max(1, len(flagged)),
        "today_recall": len(hits) / len(flipped),
        "today_listed": len(flagged),
        "in_sample_recall@2F": scores(ranked, flipped)["recall@2F"],
    }


def run(selections, seeds, methods, folds) -> pd.DataFrame:
    X_pool, X_test, y_pool, y_test = digits_pool()
    rows = []
    for selection in selections:
        for seed in seeds:
            with threadpool_limits(1):
                t = time.perf_counter()
                idx = chosen(selection, seed, X_pool, y_pool, X_test, y_test)
                X, y = X_pool[idx], y_pool[idx]
                y_noisy, flipped = flip(y, seed)
                base = {"selection": selection, "seed": seed} | today(X, y_noisy, flipped, seed)
                for k in folds:
                    for method in methods:
                        start = time.perf_counter()
                        found = find_label_errors(model(), X, y_noisy, method=method, n_folds=k, random_state=seed)
                        ranked = found.candidates["item_id"].to_numpy()
                        rows.append(base | {"method": method, "folds": k,
                                            "seconds": time.perf_counter() - start} | scores(ranked, flipped))
                print(f"{selection} seed {seed}: {time.perf_counter() - t:.1f} s", flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="random selection only, 2 seeds, the default method")
    parser.add_argument("--folds", type=int, nargs="*", default=[5])
    args = parser.parse_args()
    selections = ["random"] if args.quick else ["app", "random"]
    seeds = range(2 if args.quick else args.seeds)
    methods = METHODS[:1] if args.quick else METHODS
    frame = run(selections, seeds, methods, args.folds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    frame.to_csv(RESULTS / "label_errors.csv", index=False)
    summary = frame.groupby(["selection", "method", "folds"]).agg(
        recall_2F=("recall@2F", "mean"), recall_2F_min=("recall@2F", "min"), prec_F=("prec@F", "mean"),
        listed=("listed", "mean"), seconds=("seconds", "mean"),
        today_prec=("today_prec", "mean"), today_recall=("today_recall", "mean"),
        today_listed=("today_listed", "mean"), in_sample_recall_2F=("in_sample_recall@2F", "mean"),
    )
    pd.set_option("display.width", 200)
    print(f"\nDigits, {N_LABELS} labels, {round(FLIP * N_LABELS)} flipped, seeds {list(seeds)}; means over seeds")
    print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
