"""How good is the accuracy estimate? Error, interval coverage and width, over data sets and strategies.

Run: nice -n 5 python3 benchmarks/bench_estimate.py [--quick] [--datasets digits ...] [--strategies ...]
     [--batches 1 10] [--seeds 5] [--processes 2]

Every run goes through :func:`superintendent_core.learning.simulation.simulate` with
the estimate on, i.e. the app's own ``Learner``: after every retrain the estimate the
Model page would show is computed from the simulated project's own labels (its audit
draws and the cross-validation fold models), never from the test set. Its target is
the accuracy of the current model on the pool items not yet labelled; the truth of
that is known here (the oracle's labels of the remaining pool).

Data sets (all made from what ships with scikit-learn; nothing downloaded):

- ``digits``: the efficiency benchmark's protocol (``load_digits`` / 16, a stratified
  1/3 test split, ``LogisticRegression(max_iter=2000)``);
- ``digits_noisy``: the same with Gaussian pixel noise (sd 0.35, seeded): accuracy
  stays about 60–75 % within 300 labels;
- ``synthetic``: ``make_classification`` (1800 items, 20 features, 6 informative,
  4 classes, class_sep 1.0, 3 % flipped labels): about 60–72 %.

Printed, from ``--from`` (100) labels on, per data set, strategy and batch size: the
mean absolute error of the estimate against the truth, the share of points whose 90 %
interval holds the truth, the mean interval width (mean ± standard deviation over
seeds), and the share of points with no number. Goals (issue 12): MAE ≤ 0.04,
coverage ≥ 80 %, width ≤ 0.20. ``--variants`` also prints estimators that were tried
(computed from the same audited labels: the app's estimate is unaffected). ``--plain-margin`` also runs margin
with no draws and prints the issue's efficiency check: the default's area under the mean test-accuracy curve
(draws on) against plain margin's, per data set and batch size.
"""

from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from threadpoolctl import threadpool_limits  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DATASETS = ("digits", "digits_noisy", "synthetic")
VARIANTS = ("error_ratio", "hajek_curve", "difference", "hajek_difference", "hajek", "ht")


def dataset(name: str):
    """(X_pool, X_test, y_pool, y_test) of a named data set."""
    from sklearn.datasets import load_digits, make_classification
    from sklearn.model_selection import train_test_split

    if name in ("digits", "digits_noisy"):
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        if name == "digits_noisy":
            X = X + np.random.RandomState(0).normal(0, 0.35, X.shape)
    elif name == "synthetic":
        X, y = make_classification(
            n_samples=1800, n_features=20, n_informative=6, n_redundant=2, n_classes=4,
            n_clusters_per_class=1, class_sep=1.0, flip_y=0.03, random_state=0,
        )
    else:
        raise ValueError(f"unknown data set {name!r}; choose from {DATASETS}")
    return train_test_split(X, y, test_size=1 / 3, stratify=y, random_state=0)


# --------------------------------------------------------------------------- estimator variants


def variants(rec: dict) -> dict[str, tuple[float, float, float]]:
    """Every estimator of :data:`~superintendent_core.learning.estimate.ESTIMATORS` on one retrain's inputs."""
    from superintendent_core.learning.estimate import ESTIMATORS, estimate_accuracy

    out = {}
    for method in ESTIMATORS:
        e = estimate_accuracy(**rec, method=method)
        if e.value is not None:
            out[method] = (e.value, e.low, e.high)
    return out


# --------------------------------------------------------------------------- one run


def _cached_run(job: tuple) -> pd.DataFrame:
    """:func:`_run`, its result kept in ``job[-1]`` (a folder) so an interrupted sweep resumes where it stopped."""
    *args, cache = job
    if cache is None:
        return _run(tuple(args))
    dataset_name, strategy, batch_size, seed = args[:4]
    path = Path(cache) / f"{dataset_name}_{strategy}_b{batch_size}_s{seed}.csv"
    if path.exists():
        return pd.read_csv(path)
    curve = _run(tuple(args))
    path.parent.mkdir(parents=True, exist_ok=True)
    curve.to_csv(path.with_suffix(".tmp"), index=False)
    path.with_suffix(".tmp").replace(path)
    return curve


def _run(job: tuple) -> pd.DataFrame:
    dataset_name, strategy, batch_size, seed, budget, share, extra, record = job
    from sklearn.linear_model import LogisticRegression

    from superintendent_core.learning import learner as learner_module
    from superintendent_core.learning.simulation import simulate

    recorded: dict[int, dict] = {}
    original = learner_module.estimate_accuracy
    if record:
        def recorder(**kwargs):
            recorded[int(kwargs["n_labels"])] = {k: v for k, v in kwargs.items() if k != "method"}
            return original(**kwargs)

        learner_module.estimate_accuracy = recorder
    X_pool, X_test, y_pool, y_test = dataset(dataset_name)
    start = time.perf_counter()
    try:
        with threadpool_limits(1):
            result = simulate(
                X_pool, y_pool, X_test, y_test, LogisticRegression(max_iter=2000),
                strategy=None if strategy == "default" else strategy, batch_size=batch_size, budget=budget,
                random_state=seed, audit_share=share, learner_params=extra,
            )
    finally:
        learner_module.estimate_accuracy = original
    curve = result.curve.assign(dataset=dataset_name, strategy=strategy, batch_size=batch_size, seed=seed)
    if record:
        for name in VARIANTS:
            for part, i in (("", 0), ("_low", 1), ("_high", 2)):
                curve[f"v_{name}{part}"] = [
                    variants(recorded[n]).get(name, (np.nan,) * 3)[i] if n in recorded else np.nan
                    for n in curve["n_labels"]
                ]
    curve.attrs["seconds"] = time.perf_counter() - start
    return curve


# --------------------------------------------------------------------------- summary


def quality(
    runs: pd.DataFrame, column: str = "estimate", truth: str = "unlabelled_accuracy", start: int = 100,
    per_seed: bool = False,
) -> pd.DataFrame:
    """Per data set, strategy and batch: MAE, coverage, width (mean ± sd over seeds), share without a number.

    ``per_seed``: the figures of each seed instead of their mean and spread.
    """
    at = runs[runs["n_labels"] >= start].copy()
    value, low, high = at[column], at[f"{column}_low"], at[f"{column}_high"]
    at["abs_error"] = (value - at[truth]).abs()
    at["covered"] = ((low <= at[truth] + 1e-12) & (at[truth] <= high + 1e-12)).astype(float).where(value.notna())
    at["width"] = high - low
    at["missing"] = value.isna().astype(float)
    per_seed_table = at.groupby(["dataset", "strategy", "batch_size", "seed"]).agg(
        mae=("abs_error", "mean"), coverage=("covered", "mean"), width=("width", "mean"),
        missing=("missing", "mean"), truth=(truth, "mean"),
    )
    if per_seed:
        return per_seed_table
    return per_seed_table.groupby(["dataset", "strategy", "batch_size"]).agg(["mean", "std"])


def print_quality(table: pd.DataFrame, title: str) -> None:
    print(f"\n{title}")
    head = f"{'data set':<13}{'strategy':<14}{'batch':>5}  {'MAE':>13}  {'coverage':>13}  {'width':>13}  {'no number':>9}  {'truth':>6}"
    print(head)
    print("-" * len(head))
    for (ds, st, b), row in table.iterrows():
        def cell(key, pct=False, row=row):
            mu, sd = row[(key, "mean")], row[(key, "std")]
            sd = 0.0 if np.isnan(sd) else sd
            return f"{mu * 100:5.0f}% ± {sd * 100:3.0f}" if pct else f"{mu:.3f} ± {sd:.3f}"
        flag = "" if (row[("mae", "mean")] <= 0.04 and row[("coverage", "mean")] >= 0.8 and row[("width", "mean")] <= 0.2) else "  ✗"
        print(f"{ds:<13}{st:<14}{b:>5}  {cell('mae'):>13}  {cell('coverage', True):>13}  {cell('width'):>13}  "
              f"{row[('missing', 'mean')] * 100:8.0f}%  {row[('truth', 'mean')]:6.3f}{flag}")


def main() -> None:
    from superintendent_core.learning.estimate import DEFAULT_AUDIT_SHARE
    from superintendent_core.strategies.registry import strategy_names

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--strategies", nargs="+", default=None, help="default: every registered strategy")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--share", type=float, default=DEFAULT_AUDIT_SHARE)
    parser.add_argument("--audit-from", type=int, default=None)
    parser.add_argument("--power", type=float, default=None)
    parser.add_argument("--uniform", type=float, default=None)
    parser.add_argument("--from", dest="start", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--variants", action="store_true", help="also print the estimators that were tried")
    parser.add_argument("--save", default=None, help="save the runs to benchmarks/results/<name>.csv and the per-seed "
                        "figures to <name>_quality.csv (each run is kept in benchmarks/results/<name>_runs/ as it "
                        "finishes: a rerun resumes)")
    parser.add_argument("--runs", default=None, help="summarise runs saved by --save (a CSV path) instead of running")
    parser.add_argument("--plain-margin", action="store_true",
                        help="also run margin with no audit draws (share 0) and print the issue's efficiency check: "
                        "the default's area under the curve against plain margin's")
    args = parser.parse_args()
    strategies = args.strategies or [("default" if s == "neighbourhood" else s) for s in strategy_names()]
    extra = {k: v for k, v in (("audit_from", args.audit_from), ("audit_power", args.power),
                                ("audit_uniform", args.uniform)) if v is not None}
    print(f"data sets {args.datasets}, strategies {strategies}, batches {args.batches}, seeds 0..{args.seeds - 1}, "
          f"budget {args.budget}, audit share {args.share}, {extra or 'default audit parameters'}")
    if args.runs:
        runs = pd.read_csv(args.runs)
    else:
        cache = RESULTS / f"{args.save}_runs" if args.save else None
        jobs = [
            (ds, st, b, seed, args.budget, args.share, extra, args.variants, cache)
            for ds in args.datasets for b in sorted(args.batches, reverse=True) for st in strategies
            for seed in range(args.seeds)
        ]
        start = time.perf_counter()
        with Pool(args.processes) as pool:
            curves = pool.map(_cached_run, jobs, chunksize=1)
        print(f"{len(jobs)} simulations in {time.perf_counter() - start:.0f} s")
        runs = pd.concat(curves, ignore_index=True)
    if args.save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        runs.to_csv(RESULTS / f"{args.save}.csv", index=False)
        quality(runs, start=args.start, per_seed=True).round(4).to_csv(RESULTS / f"{args.save}_quality.csv")
    print_quality(quality(runs, start=args.start),
                  f"The app's estimate vs the true accuracy on the unlabelled pool, from {args.start} labels on "
                  "(mean ± sd over seeds; ✗: a goal missed)")
    if args.variants:
        for name in VARIANTS:
            print_quality(quality(runs, f"v_{name}", start=args.start), f"variant {name!r}")
    # How far the unlabelled pool's accuracy is from a test set's ("new" items), for the record.
    at = runs[runs["n_labels"] >= args.start]
    gap = (at["unlabelled_accuracy"] - at["accuracy"]).groupby([at["dataset"], at["batch_size"]]).mean()
    print("\nMean (unlabelled-pool accuracy − test accuracy) from", args.start, "labels on:")
    print(gap.round(3).to_string())
    # Label efficiency with the audit draws on: area under the mean test-accuracy curve (mean accuracy
    # over the retrains, 10..budget labels), per data set, batch and strategy.
    area = runs.groupby(["dataset", "batch_size", "strategy"])["accuracy"].mean().unstack("strategy")
    print("\nMean test accuracy over the whole curve (area under it / labels), audit draws on:")
    print(area.round(4).to_string())
    if args.plain_margin:
        if "default" in area.columns:
            plain_margin_check(args, sorted(set(runs["dataset"])), area["default"])
        else:
            print("\n--plain-margin: no check, the default strategy was not among --strategies.")


def plain_margin_check(args, datasets: list[str], default_area: pd.Series) -> None:
    """Issue 12's efficiency check: the default's area (at ``--share``) against plain margin's (no draws, share 0)."""
    jobs = [(ds, "margin", b, seed, args.budget, 0.0, {}, False, None)
            for ds in datasets for b in sorted(args.batches, reverse=True) for seed in range(args.seeds)]
    with Pool(args.processes) as pool:
        plain = pd.concat(pool.map(_cached_run, jobs, chunksize=1), ignore_index=True)
    plain_area = plain.groupby(["dataset", "batch_size"])["accuracy"].mean()
    table = pd.DataFrame({f"default (share {args.share:g})": default_area, "plain margin (share 0)": plain_area})
    table["difference"] = table.iloc[:, 0] - table.iloc[:, 1]
    table["at or above"] = np.where(table["difference"] >= 0, "yes", "no")
    print("\nThe default's area under the curve against plain margin's (goal: at or above on every data set):")
    print(table.round(4).to_string())


if __name__ == "__main__":
    main()
