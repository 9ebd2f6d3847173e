"""Is strategy B better than strategy A? Paired per-seed differences, across digits splits.

Run: python3 benchmarks/compare_strategies.py --a "neighbourhood" \
         --b "NeighbourhoodMargin(handover_per_class=8)" --seeds 20 --splits 0,1,2,3

Labels-to-95 % on one split's mean curve moves by 10 labels either way with
changes that are noise (the curve is nearly flat there), so decisions about the
default strategy were taken with this script instead: both strategies run on
the same seeds (the same cold start, the same initial labels where they share
it), and for each seed the mean accuracy over a range of label counts is
compared, B minus A. It prints, per batch size and split, labels to 90 % / 95 %
for each, then the mean difference ± its standard error over each range, and
the mean over the splits. A difference that holds on every split is a
difference; one split's gain is that split's luck.

``--a`` / ``--b``: a registered strategy name ("margin", "neighbourhood", ...) or
a Python expression evaluated with ``superintendent_core``'s public names in
scope, e.g. ``NeighbourhoodMargin(cover_per_class=0)``. The protocol otherwise
is ``bench_efficiency.py``'s: digits / 16, a stratified 1/3 test split
(``random_state`` = the split), ``LogisticRegression(max_iter=2000)``,
``initial=10``, one BLAS thread per run.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

from benchmarks.bench_efficiency import labels_to, simulate_digits  # noqa: E402


def make_strategy(spec: str):
    """A registered name as it is; anything else evaluated with the engine's public names in scope."""
    import superintendent_core
    from superintendent_core.strategies import Strategy, strategy_names

    if spec in strategy_names():
        return spec
    scope = {name: getattr(superintendent_core, name) for name in superintendent_core.__all__}
    try:
        strategy = eval(spec, scope)  # noqa: S307 - the user's own command line
    except Exception as error:
        raise SystemExit(
            f"Cannot make a strategy of {spec!r}: {type(error).__name__}: {error}. Give a registered name "
            f"({', '.join(strategy_names())}) or an expression such as "
            "'NeighbourhoodMargin(handover_per_class=8)'."
        ) from None
    if not (isinstance(strategy, Strategy) or callable(strategy)):
        raise SystemExit(f"{spec!r} gives {type(strategy).__name__}, not a strategy (a Strategy or a callable).")
    return strategy


def run(job: tuple[str, str, int, int, int, int]) -> pd.DataFrame:
    """One simulation: the learning curve of strategy ``spec`` (labelled ``side``)."""
    side, spec, batch_size, seed, split, budget = job
    result = simulate_digits(make_strategy(spec), batch_size, seed, split=split, budget=budget)
    return result.curve.assign(side=side, batch_size=batch_size, seed=seed, split=split)


def paired(curves: pd.DataFrame, ranges: list[tuple[int, int]]) -> pd.DataFrame:
    """Per batch size, split and range: mean over seeds of (B − A), its standard error, and labels to 90/95 %.

    ``curves``: columns side ("a"/"b"), batch_size, split, seed, n_labels, accuracy.
    """
    rows = []
    for (batch_size, split), group in curves.groupby(["batch_size", "split"]):
        wide = group.pivot_table(index=["seed", "n_labels"], columns="side", values="accuracy")
        means = group.groupby(["side", "n_labels"], as_index=False)["accuracy"].mean()
        row = {"batch_size": batch_size, "split": split, "seeds": group["seed"].nunique()}
        for side in ("a", "b"):
            curve = means[means["side"] == side]
            row[f"{side}_to_90"] = labels_to(curve, 0.90)
            row[f"{side}_to_95"] = labels_to(curve, 0.95)
        for lo, hi in ranges:
            at = wide[(wide.index.get_level_values("n_labels") >= lo) & (wide.index.get_level_values("n_labels") <= hi)]
            per_seed = (at["b"] - at["a"]).groupby(level="seed").mean().dropna()
            spread = per_seed.std(ddof=1) / np.sqrt(len(per_seed)) if len(per_seed) > 1 else np.nan
            row[f"{lo}-{hi}"] = per_seed.mean() if len(per_seed) else np.nan
            row[f"{lo}-{hi} se"] = spread
        rows.append(row)
    return pd.DataFrame(rows)


def _ints(option: str, text: str, minimum: int) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise SystemExit(f"{option}: expected whole numbers separated by commas, got {text!r}") from None
    if any(v < minimum for v in values):
        raise SystemExit(f"{option}: each value must be at least {minimum}, got {text!r}")
    return values


def _parse_ranges(text: str) -> list[tuple[int, int]]:
    try:
        ranges = [tuple(int(x) for x in part.split("-")) for part in text.split(",")]
    except ValueError:
        raise SystemExit(f"--ranges: expected e.g. 11-50,60-100, got {text!r}") from None
    if any(len(r) != 2 or r[0] > r[1] for r in ranges):
        raise SystemExit(f"--ranges: each range is LOW-HIGH with LOW <= HIGH, got {text!r}")
    return ranges


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", default="neighbourhood", help="the reference strategy")
    parser.add_argument("--b", required=True, help="the strategy compared with it")
    parser.add_argument("--seeds", default="20", help="N (seeds 0..N-1) or FROM:TO (fresh seeds)")
    parser.add_argument("--splits", default="0,1,2,3", help="digits pool/test splits (0 is the protocol's)")
    parser.add_argument("--batch", default="1,10", help="batch sizes")
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--ranges", default="11-50,60-100,101-150,151-200", help="label ranges to average over")
    parser.add_argument("--jobs", type=int, default=2, help="processes")
    parser.add_argument("--save", type=Path, help="write the curves to this CSV")
    args = parser.parse_args(argv)

    for spec in (args.a, args.b):
        make_strategy(spec)  # a bad expression fails here, before any run
    first, _, last = args.seeds.partition(":")
    seeds = range(*_ints("--seeds", f"{first},{last}" if last else f"0,{first}", 0))
    splits = _ints("--splits", args.splits, 0)
    batches = _ints("--batch", args.batch, 1)
    if not seeds or args.budget < 11:
        raise SystemExit(f"--seeds {args.seeds!r} gives no seed, or --budget {args.budget} is below 11 (10 initial labels).")
    ranges = [(lo, min(hi, args.budget)) for lo, hi in _parse_ranges(args.ranges) if lo <= args.budget]

    jobs = [
        (side, spec, batch, seed, split, args.budget)
        for (side, spec), batch, seed, split in itertools.product(
            (("a", args.a), ("b", args.b)), batches, seeds, splits
        )
    ]
    print(f"A = {args.a}\nB = {args.b}\n{len(jobs)} runs ({len(seeds)} seeds × {len(splits)} splits × "
          f"batch {args.batch} × 2), budget {args.budget}", flush=True)
    with Pool(args.jobs) as pool:
        curves = pd.concat(pool.map(run, jobs, chunksize=1), ignore_index=True)
    if args.save:
        curves.to_csv(args.save, index=False)
    result = paired(curves, ranges)

    def fmt(n):
        return "never" if n is None or pd.isna(n) else str(int(n))

    print("\nB − A: mean test accuracy over each range of labels, paired per seed (mean ± standard error)")
    for batch_size, by_batch in result.groupby("batch_size"):
        print(f"\nbatch {batch_size}")
        for row in by_batch.to_dict("records"):
            cells = "  ".join(f"[{lo}-{hi}] {row[f'{lo}-{hi}']:+.4f} ± {row[f'{lo}-{hi} se']:.4f}" for lo, hi in ranges)
            print(f"  split {row['split']} ({row['seeds']} seeds): to 90/95 % A {fmt(row['a_to_90'])}/"
                  f"{fmt(row['a_to_95'])}, B {fmt(row['b_to_90'])}/{fmt(row['b_to_95'])}   {cells}")
        pooled = "  ".join(f"[{lo}-{hi}] {by_batch[f'{lo}-{hi}'].mean():+.4f}" for lo, hi in ranges)
        print(f"  mean over splits: {pooled}")
    return result


if __name__ == "__main__":
    main()
