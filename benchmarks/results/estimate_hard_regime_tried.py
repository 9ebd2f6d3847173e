"""Tried, not adopted (issue 12, session 12): every served item an audit draw while the estimate reads low.

Rule: after each retrain, the next order's audit share is ``HIGH`` (1.0) while that retrain's
estimate reads below ``HARD`` (0.85), else the project's share (0.2). Draws keep the app's
proposal (q ∝ (1 − margin)² mixed with 20 % uniform) and start at 50 labels, as in the app.
The app's code is not changed: the rule is applied by wrapping ``Learner.retrain`` in the
benchmark's worker processes (the next retrain of the same learner reads the share).

Run from a checkout: nice -n 5 python3 benchmarks/results/estimate_hard_regime_tried.py \
    digits,digits_noisy,synthetic default,margin /tmp/hard.csv
Environment: HARD (default 0.85), HIGH (default 1.0). Prints the estimate's quality (as
benchmarks/bench_estimate.py), the mean test accuracy over the curve, and labels to 90 % / 95 %.
Results: benchmarks/results/estimate_hard_data.txt.
"""

import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
HARD = float(os.environ.get("HARD", "0.85"))
HIGH = float(os.environ.get("HIGH", "1.0"))


def _patch() -> None:
    from superintendent_core.learning import learner as learner_module

    if getattr(learner_module.Learner, "_hard_regime_tried", False):
        return
    original = learner_module.Learner.retrain

    def retrain(self, *args, **kwargs):
        if not hasattr(self, "_base_share"):
            self._base_share = float(self.audit_share)
        result = original(self, *args, **kwargs)
        e = result.estimate
        if self._base_share > 0:
            low = e is not None and e.value is not None and e.value < HARD
            self.audit_share = HIGH if low else self._base_share
        return result

    learner_module.Learner.retrain = retrain
    learner_module.Learner._hard_regime_tried = True


def _job(args):
    _patch()
    import bench_estimate

    return bench_estimate._run(args)


def main() -> None:
    import bench_estimate
    from bench_efficiency import labels_to

    datasets, strategies, out = sys.argv[1].split(","), sys.argv[2].split(","), sys.argv[3]
    jobs = [(ds, st, b, seed, 300, 0.2, {}, False) for ds in datasets for b in (10, 1) for st in strategies
            for seed in range(5)]
    start = time.perf_counter()
    with Pool(2) as pool:
        curves = pool.map(_job, jobs, chunksize=1)
    runs = pd.concat(curves, ignore_index=True)
    runs.to_csv(out, index=False)
    print(f"HARD={HARD} HIGH={HIGH}; {len(jobs)} simulations in {time.perf_counter() - start:.0f} s")
    bench_estimate.print_quality(bench_estimate.quality(runs), "estimate vs truth from 100 labels on")
    area = runs.groupby(["dataset", "batch_size", "strategy"])["accuracy"].mean().unstack("strategy")
    print("\nMean test accuracy over the curve:")
    print(area.round(4).to_string())
    for (ds, b, st), g in runs.groupby(["dataset", "batch_size", "strategy"]):
        mean = g.groupby("n_labels")["accuracy"].mean().reset_index()
        print(ds, b, st, "labels to 90 % / 95 %:", labels_to(mean, 0.9), labels_to(mean, 0.95))


if __name__ == "__main__":
    main()
