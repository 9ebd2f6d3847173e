"""When does the stop rule (``learning.stopping.when_to_stop``) say stop, and what was left to gain then?

Run: python benchmarks/bench_stopping.py [--seeds 5] [--budget 500] [--batch 10]

For each data set and seed, ``simulate`` (the app's own Learner, default strategy) gives the true
learning curve (accuracy on held-out data after every retrain). The stop rule is then asked after
every retrain, as the Model page would, and the script prints:

- ``first stop``: the first label count where it said "stop", the true accuracy then, and the true
  accuracy at the end of the budget: ``left`` is what labelling on to the budget still bought;
- ``flips``: how often, after the first "stop", it said "still improving" again;
- ``truth flat``: the first label count where the true accuracy is within 1 point of its final value.

The estimate the rule reads: when ``SimulationResult.curve`` has ``estimate``, ``estimate_low``,
``estimate_high`` (issue 12, item 2) those are used ("estimator"). Otherwise a *modelled* estimate
is used and the output says so: truth plus the error of a mean over ``audit_share × n`` audited
labels that grows with ``n`` (consecutive estimates share their audited labels, as the real ones do),
with a 90 % interval ``±1.645·1.3·sqrt(p(1-p)/m)`` (1.3: the importance weights' variance inflation).
That model is a stand-in to exercise the rule, not a measurement of the estimator.
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

from superintendent_core.learning.stopping import when_to_stop  # noqa: E402


def datasets():
    from sklearn.datasets import load_digits, make_classification
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    yield "digits", train_test_split(X / 16.0, y, test_size=1 / 3, stratify=y, random_state=0)
    X, y = make_classification(n_samples=3000, n_features=20, n_informative=6, n_redundant=2, n_classes=4,
                               n_clusters_per_class=2, class_sep=0.8, flip_y=0.15, random_state=0)
    yield "hard (make_classification, 4 classes, 15 % label noise)", train_test_split(
        X, y, test_size=1 / 3, stratify=y, random_state=0)


def modelled_estimate(curve: pd.DataFrame, seed: int, audit_share: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1000)
    n = curve["n_labels"].to_numpy()
    p = curve["accuracy"].to_numpy()
    m = np.maximum(1, np.floor(audit_share * n)).astype(int)
    z = rng.normal(size=int(m.max()))
    mean_z = np.cumsum(z)[m - 1] / m  # the audited set grows: errors are shared, as in the real estimate
    se = 1.3 * np.sqrt(np.maximum(p * (1 - p), 0.01) / m)
    value = np.clip(p + se * mean_z * np.sqrt(m), 0, 1)  # sd of mean_z·sqrt(m) is 1: error sd = se
    low, high = np.clip(value - 1.645 * se, 0, 1), np.clip(value + 1.645 * se, 0, 1)
    return curve.assign(estimate=value, estimate_low=low, estimate_high=high)


def one_run(name, split, seed, batch, budget, audit_share):
    from sklearn.linear_model import LogisticRegression

    from superintendent_core.learning.simulation import simulate

    X_pool, X_test, y_pool, y_test = split
    with threadpool_limits(1):
        result = simulate(X_pool, y_pool, X_test, y_test, LogisticRegression(max_iter=2000), strategy=None,
                          initial=10, batch_size=batch, budget=budget, random_state=seed)
    curve = result.curve.reset_index(drop=True)
    source = "estimator" if "estimate" in curve.columns else "modelled"
    if source == "modelled":
        curve = modelled_estimate(curve, seed, audit_share)
    history = curve.assign(model="logistic_regression", estimate_target="new")
    said = [when_to_stop(history.iloc[: i + 1]).stop for i in range(len(history))]
    stops = [i for i, s in enumerate(said) if s is True]
    final = float(curve["accuracy"].iloc[-1])
    flat = curve.loc[curve["accuracy"] >= final - 0.01, "n_labels"]
    row = {"data": name, "seed": seed, "estimate": source, "final acc": final,
           "truth flat at": int(flat.iloc[0]) if len(flat) else None}
    if stops:
        first = stops[0]
        row.update({"first stop": int(curve["n_labels"].iloc[first]), "acc then": float(curve["accuracy"].iloc[first]),
                    "left": final - float(curve["accuracy"].iloc[first]),
                    "flips": sum(1 for s in said[first:] if s is False)})
    else:
        row.update({"first stop": None, "acc then": None, "left": None, "flips": 0})
    row["sentence at the end"] = when_to_stop(history).sentence
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--audit-share", type=float, default=0.25)
    args = parser.parse_args()
    rows = []
    start = time.perf_counter()
    for name, split in datasets():
        for seed in range(args.seeds):
            rows.append(one_run(name, split, seed, args.batch, args.budget, args.audit_share))
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 200)
    print(table.drop(columns=["sentence at the end"]).round(3).to_string(index=False))
    print()
    for name, part in table.groupby("data", sort=False):
        stopped = part.dropna(subset=["first stop"])
        print(f"{name}: said stop in {len(stopped)}/{len(part)} runs; first stop at median "
              f"{stopped['first stop'].median() if len(stopped) else 'n/a'} labels; accuracy left to gain by "
              f"{args.budget}: median {100 * stopped['left'].median():.1f} points, max {100 * stopped['left'].max():.1f}"
              if len(stopped) else f"{name}: never said stop")
        print(f"  e.g. seed {part['seed'].iloc[0]} at {args.budget} labels: {part['sentence at the end'].iloc[0]}")
    print(f"\n({time.perf_counter() - start:.0f} s; estimate: {', '.join(sorted(set(table['estimate'])))})")


if __name__ == "__main__":
    main()
