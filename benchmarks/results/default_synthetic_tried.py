"""Why is the default strategy behind plain margin on the synthetic set? (issue 12, session 12)

No audit draws (share 0), no estimate: only the orders matter. Variants of the default
(NeighbourhoodMargin): its defaults; a random cold start ("randstart", the first 10 labels
drawn as margin's are); the same without the coverage continuation; plain margin.
Prints the mean test accuracy over the curve (10..300 labels) and at 10, 20, 50, 100, 200
and 300 labels, mean over seeds 0-4.

Run from a checkout: nice -n 5 python3 benchmarks/results/default_synthetic_tried.py \
    synthetic,digits_noisy default,margin,randstart,randstart_nocover
Results: benchmarks/results/estimate_hard_data.txt.
"""

import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from superintendent_core.strategies.neighbourhood import NeighbourhoodMargin  # noqa: E402


class RandomStart(NeighbourhoodMargin):
    informed_cold_start = False  # the first labels are the uniform draw plain strategies get


VARIANTS = {
    "default": NeighbourhoodMargin,
    "margin": lambda: "margin",
    "randstart": RandomStart,
    "randstart_nocover": lambda: RandomStart(cover_per_class=0),
    "handover2": lambda: NeighbourhoodMargin(handover_per_class=2),
    "k5": lambda: NeighbourhoodMargin(n_neighbours=5),
    "nc8": lambda: NeighbourhoodMargin(n_components=8),
}
AT = (10, 20, 50, 100, 200, 300)


def _run(job):
    from bench_estimate import dataset
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from superintendent_core.learning.simulation import simulate

    ds, variant, batch, seed = job
    X_pool, X_test, y_pool, y_test = dataset(ds)
    with threadpool_limits(1):
        result = simulate(X_pool, y_pool, X_test, y_test, LogisticRegression(max_iter=2000),
                          strategy=VARIANTS[variant](), batch_size=batch, budget=300, random_state=seed,
                          audit_share=0, estimate=False)
    curve = result.curve.set_index("n_labels")["accuracy"]
    return ds, variant, batch, seed, float(curve.mean()), *[float(curve.get(k, np.nan)) for k in AT]


def main() -> None:
    datasets, variants = sys.argv[1].split(","), sys.argv[2].split(",")
    jobs = [(ds, v, b, s) for ds in datasets for v in variants for b in (1, 10) for s in range(5)]
    with Pool(2) as pool:
        rows = pool.map(_run, jobs, chunksize=1)
    table = pd.DataFrame(rows, columns=["data set", "variant", "batch", "seed", "curve mean", *[f"at {k}" for k in AT]])
    print(table.groupby(["data set", "batch", "variant"]).mean(numeric_only=True).drop(columns="seed").round(4)
          .to_string())


if __name__ == "__main__":
    main()
