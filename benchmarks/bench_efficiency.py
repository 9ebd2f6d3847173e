"""Label efficiency: how many labels each strategy needs, beside superintendent 0.6.0's margin.

Run: /work/main/.bench-venv/bin/python benchmarks/bench_efficiency.py [--quick]

Protocol (issue 2): ``load_digits``, X / 16, ``train_test_split(test_size=1/3,
stratify=y, random_state=0)``, ``LogisticRegression(max_iter=2000)``, seeds 0..9,
``initial=10``, ``budget=300``, batch sizes 1 and 10. Every run goes through
:func:`superintendent_core.learning.simulation.simulate`, i.e. the app's own ``Learner``.

"Labels to X%": the smallest ``n_labels`` on the mean learning curve (test
accuracy averaged over the seeds at each number of labels) where the mean
reaches X. At batch 10 the curve has points at 10, 20, 30, ... only (no
interpolation), "never" means not within the budget.

The peer is superintendent 0.6.0's ``acquisition_functions.margin`` (it returns
ranks; ``shuffle_prop=0`` and ``np.argsort`` make it an order), passed to
``simulate`` as a callable strategy: it gets the same random initial draw as our
plain strategies. modAL and scikit-activeml give the same curve for margin.

The accuracy estimate's audit draws (issue 12) are on, at the project's default
share, as in the app; ``--audit-share 0`` turns them off (the "before" of the
README's table). The estimate itself is not computed here: the orders do not
depend on it.

Prints the table, the learning curves, the cost of the default strategy on a
70,000 × 784 pool, and saves ``benchmarks/results/efficiency.csv`` (mean curves),
``efficiency_table.csv`` and ``efficiency.html`` (altair chart).
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
PEER = "superintendent 0.6.0 margin"
OURS = ["default", "margin", "entropy", "certainty", "random"]
THRESHOLDS = (0.90, 0.95)
CHECKPOINTS = (10, 20, 30, 50, 75, 100, 150, 200, 300)


def peer_margin(probabilities: np.ndarray) -> np.ndarray:
    """superintendent 0.6.0's margin as an order (it returns ranks)."""
    from superintendent.acquisition_functions import margin

    return np.argsort(margin(probabilities, shuffle_prop=0.0), kind="stable")


def peer_available() -> bool:
    try:
        from superintendent.acquisition_functions import margin  # noqa: F401
    except ImportError:
        return False
    return True


def digits_split(split: int = 0):
    """The protocol's pool / test split (``split`` 0); other values: other, independent splits."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=1 / 3, stratify=y, random_state=split)


def simulate_digits(
    strategy, batch_size: int, seed: int, split: int = 0, budget: int = 300, initial: int = 10,
    audit: dict | None = None,
):
    """One run of the protocol: ``simulate`` on a digits split with its model, one BLAS thread.

    ``audit``: ``audit_share`` and further Learner parameters (``audit_power`` ...);
    None: the project's defaults. The estimate itself is not computed (it needs
    cross-validation, and the order does not depend on it): the audit draws are
    woven into the orders all the same, as in the app with the estimate on.
    """
    from sklearn.linear_model import LogisticRegression

    from superintendent_core.learning.simulation import simulate

    audit = dict(audit or {})
    share = audit.pop("audit_share", None)
    extra = {} if share is None else {"audit_share": share}
    X_pool, X_test, y_pool, y_test = digits_split(split)
    with threadpool_limits(1):
        return simulate(
            X_pool, y_pool, X_test, y_test, LogisticRegression(max_iter=2000),
            strategy=strategy, initial=initial, batch_size=batch_size, budget=budget, random_state=seed,
            estimate=False, learner_params=audit or None, **extra,
        )


def _run(job: tuple) -> pd.DataFrame:
    name, batch_size, seed, initial, budget, split, audit = job
    strategy = {"default": None, PEER: peer_margin}.get(name, name)
    start = time.perf_counter()
    result = simulate_digits(strategy, batch_size, seed, split=split, budget=budget, initial=initial, audit=audit)
    curve = result.curve.assign(strategy=name, batch_size=batch_size, seed=seed)
    curve.attrs["seconds"] = time.perf_counter() - start
    return curve


def labels_to(mean_curve: pd.DataFrame, threshold: float) -> int | None:
    reached = mean_curve.loc[mean_curve["accuracy"] >= threshold - 1e-12, "n_labels"]
    return int(reached.iloc[0]) if len(reached) else None


def _fmt(n: int | None) -> str:
    return "never" if n is None else str(n)


def _ratio(theirs: int | None, ours: int | None) -> str:
    """Labels the reference needs per label we need (> 1: we need fewer)."""
    if ours is None:
        return "—"
    if theirs is None:
        return ">" + f"{300 / ours:.2f}×"
    return f"{theirs / ours:.2f}×"


def table(means: pd.DataFrame, names: list[str], batches: list[int]) -> pd.DataFrame:
    rows = []
    for batch in batches:
        for name in names:
            curve = means[(means["strategy"] == name) & (means["batch_size"] == batch)]
            rows.append(
                {"batch_size": batch, "strategy": name}
                | {f"to_{round(t * 100)}": labels_to(curve, t) for t in THRESHOLDS}
            )
    out = pd.DataFrame(rows, dtype=object)
    for t in THRESHOLDS:
        col = f"to_{round(t * 100)}"
        for ref, label in ((PEER, "peer"), ("random", "random")):
            ref_values = out[out["strategy"] == ref].set_index("batch_size")[col]
            out[f"{col}_vs_{label}"] = [
                _ratio(ref_values.get(b), v) if ref in names else "n/a"
                for b, v in zip(out["batch_size"], out[col], strict=True)
            ]
    return out


def print_table(tab: pd.DataFrame) -> None:
    print("\nLabels to reach a mean test accuracy (lower is better); ratio = reference's labels / ours (> 1: we need fewer)")
    head = f"{'batch':>5}  {'strategy':<28} {'to 90%':>6} {'vs peer':>8} {'vs random':>9}   {'to 95%':>6} {'vs peer':>8} {'vs random':>9}"
    print(head)
    print("-" * len(head))
    for row in tab.itertuples(index=False):
        print(
            f"{row.batch_size:>5}  {row.strategy:<28} {_fmt(row.to_90):>6} {row.to_90_vs_peer:>8} {row.to_90_vs_random:>9}"
            f"   {_fmt(row.to_95):>6} {row.to_95_vs_peer:>8} {row.to_95_vs_random:>9}"
        )


def print_curves(means: pd.DataFrame, names: list[str], batches: list[int]) -> None:
    print("\nMean test accuracy (%) at n labels (batch 10: the last retrain at or before n)")
    head = f"{'batch':>5}  {'strategy':<28}" + "".join(f"{n:>6}" for n in CHECKPOINTS)
    print(head)
    print("-" * len(head))
    for batch in batches:
        for name in names:
            curve = means[(means["strategy"] == name) & (means["batch_size"] == batch)].set_index("n_labels")["accuracy"]
            cells = []
            for n in CHECKPOINTS:
                at = curve[curve.index <= n]
                inside = len(at) and n <= curve.index.max()
                cells.append(f"{at.iloc[-1] * 100:6.1f}" if inside else f"{'':>6}")
            print(f"{batch:>5}  {name:<28}" + "".join(cells))


def save_chart(means: pd.DataFrame, path: Path) -> None:
    import altair as alt

    lines = (
        alt.Chart(means)
        .mark_line()
        .encode(
            x=alt.X("n_labels:Q", title="labels"),
            y=alt.Y("accuracy:Q", title="mean test accuracy", scale=alt.Scale(domain=[0.4, 1.0])),
            color=alt.Color("strategy:N"),
            tooltip=["strategy", "batch_size", "n_labels", alt.Tooltip("accuracy:Q", format=".3f")],
        )
    )
    rules = alt.Chart(pd.DataFrame({"y": list(THRESHOLDS)})).mark_rule(strokeDash=[4, 4], color="grey").encode(y="y:Q")
    chart = (
        alt.layer(lines, rules, data=means)
        .properties(width=420, height=300)
        .facet(column=alt.Column("batch_size:N", title="batch size"))
        .properties(title="digits, LogisticRegression: mean test accuracy over seeds")
    )
    chart.save(str(path))


def cost_at_scale(repeats: int = 5) -> None:
    """Seconds of the default strategy alone on a 70,000 × 784 pool (float32), 500 labelled."""
    from superintendent_core.strategies.base import PoolContext
    from superintendent_core.strategies.neighbourhood import neighbourhood
    from superintendent_core.strategies.uncertainty import margin

    rng = np.random.RandomState(0)
    features = rng.rand(70_000, 784).astype(np.float32)
    labelled = rng.rand(500, 784).astype(np.float32)
    probabilities = rng.dirichlet(np.ones(10), 70_000)

    def default(batch_size: int):  # as the learner calls it: through the protocol
        return lambda: neighbourhood.order(PoolContext(probabilities, features, labelled, batch_size, 0))

    print("\nCost on a 70,000 × 784 float32 pool, 10 classes, 500 labelled (median of repeats, one thread)")
    with threadpool_limits(1):
        for label, call in [
            ("plain margin, full order", lambda: margin(probabilities)),
            ("default, batch 1", default(1)),
            ("default, batch 10", default(10)),
            ("default, cold start", lambda: neighbourhood.cold_start(features, random_state=0)),
        ]:
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
            print(f"  {label:<28} {np.median(times) * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds, for a smoke run")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 10; 3 with --quick)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--strategies", nargs="+", default=None, help=f"subset of {OURS} and 'peer'")
    parser.add_argument("--initial", type=int, default=10)
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--split", type=int, default=0,
        help="train_test_split's random_state: 0 is the protocol; others check that a result is not one split's "
        "luck (saved as efficiency_split<N>.csv and efficiency_split<N>_table.csv)",
    )
    parser.add_argument("--audit-share", type=float, default=None,
                        help="share of served items drawn at random for the accuracy estimate (default: the "
                        "project default; 0: no audit draws, as before the estimate)")
    parser.add_argument("--audit-power", type=float, default=None)
    parser.add_argument("--audit-uniform", type=float, default=None)
    parser.add_argument("--audit-from", type=int, default=None)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--no-cost", action="store_true")
    args = parser.parse_args()
    seeds = args.seeds or (3 if args.quick else 10)

    names = [n for n in (args.strategies or OURS + ["peer"])]
    names = [PEER if n == "peer" else n for n in names]
    if PEER in names and not peer_available():
        print("superintendent 0.6.0 is not importable here (run with /work/main/.bench-venv/bin/python): the peer is missing.")
        names.remove(PEER)
    if PEER in names:  # peer next to our margin in the listings
        names.remove(PEER)
        names.insert(names.index("margin") + 1 if "margin" in names else 0, PEER)

    print(f"digits (1198 pool / 599 test, split {args.split}), LogisticRegression(max_iter=2000), seeds 0..{seeds - 1}, "
          f"initial {args.initial}, budget {args.budget}, batches {args.batches}, {args.processes} processes")
    audit = {k: v for k, v in (("audit_share", args.audit_share), ("audit_power", args.audit_power),
                               ("audit_uniform", args.audit_uniform), ("audit_from", args.audit_from)) if v is not None}
    print(f"audit draws: {audit or 'project defaults'}")
    jobs = [(name, batch, seed, args.initial, args.budget, args.split, audit)
            for batch in args.batches for name in names for seed in range(seeds)]
    start = time.perf_counter()
    with Pool(args.processes) as pool:
        curves = pool.map(_run, jobs, chunksize=1)
    print(f"{len(jobs)} simulations in {time.perf_counter() - start:.0f} s")

    runs = pd.concat(curves, ignore_index=True)
    means = (
        runs.groupby(["strategy", "batch_size", "n_labels"], sort=False)["accuracy"]
        .agg(accuracy="mean", std="std", seeds="count")
        .reset_index()
    )
    tab = table(means, names, args.batches)
    print_table(tab)
    print_curves(means, names, args.batches)
    print("\nGoals for the default (issue 2): ≤ 45 labels to 90% and ≤ 100 to 95% at batch 1; ≤ 60 and ≤ 115 at batch 10.")
    if not args.no_cost:
        cost_at_scale()
    if not args.no_save and args.split != 0:
        RESULTS.mkdir(parents=True, exist_ok=True)
        means.to_csv(RESULTS / f"efficiency_split{args.split}.csv", index=False)
        tab.to_csv(RESULTS / f"efficiency_split{args.split}_table.csv", index=False)
        print(f"\nsaved {RESULTS / f'efficiency_split{args.split}.csv'} and its _table.csv")
    elif not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        means.to_csv(RESULTS / "efficiency.csv", index=False)
        tab.to_csv(RESULTS / "efficiency_table.csv", index=False)
        save_chart(means, RESULTS / "efficiency.html")
        print(f"\nsaved {RESULTS / 'efficiency.csv'}, {RESULTS / 'efficiency_table.csv'}, {RESULTS / 'efficiency.html'}")


if __name__ == "__main__":
    main()
