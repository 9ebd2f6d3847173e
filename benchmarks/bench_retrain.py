"""Retrain at an MNIST-sized pool: 70,000 × 784 synthetic images, LogisticRegression, 500 labels.

Run: python3 benchmarks/bench_retrain.py [--strategies margin default] [--repeats 3]

Prints, for each strategy, each part of one ``Learner.retrain`` call: the model's own
fit, the 3-fold cross-validation, predict_proba over the pool, the ordering, and the
rest ("overhead": everything beyond fit + CV + predict_proba, which is ours to keep
small). Goals (issue 2): whole call < 2 s; overhead < 5 % of it.

The pool is synthetic, MNIST-shaped: 10 class prototypes of 28×28 blurred strokes plus
per-item noise and shifts (noise set so 500 labels give ~0.86 CV accuracy, close to
real MNIST with logistic regression), uint8, then scaled to float32 in [0, 1].
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from sklearn.linear_model import LogisticRegression  # noqa: E402

from superintendent_core import Learner  # noqa: E402


def synthetic_mnist(n: int = 70_000, side: int = 28, n_classes: int = 10, seed: int = 0):
    """MNIST-sized uint8 images whose class is learnable, made here (nothing downloaded)."""
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((n_classes, side, side)) > 0.8).astype(np.float32)
    # Smooth the prototypes a little so neighbouring pixels correlate, as in digits.
    for _ in range(2):
        prototypes = (prototypes + np.roll(prototypes, 1, 1) + np.roll(prototypes, 1, 2)) / 3
    y = rng.integers(0, n_classes, n)
    images = prototypes[y]
    shifts = rng.integers(-1, 2, size=(n, 2))
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            mask = (shifts[:, 0] == dx) & (shifts[:, 1] == dy)
            images[mask] = np.roll(images[mask], (dx, dy), axis=(1, 2))
    images = images + rng.normal(0, 0.6, images.shape).astype(np.float32)
    pixels = np.clip(images * 255, 0, 255).astype(np.uint8).reshape(n, side * side)
    return pixels, y.astype(str)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategies", nargs="+", default=["margin", "default"])
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--audited", type=int, default=100,
                        help="audit records passed with the labels, for the accuracy estimate (0: none, no estimate)")
    args = parser.parse_args()

    pixels, y = synthetic_mnist()
    X = pixels.astype(np.float32) / 255.0
    rng = np.random.default_rng(1)
    labelled = rng.choice(len(X), args.labels, replace=False)
    mask = np.ones(len(X), dtype=bool)
    mask[labelled] = False
    X_lab, y_lab, X_pool = X[labelled], y[labelled], X[mask]
    print(f"pool {X_pool.shape[0]:,} × {X_pool.shape[1]} float32, {args.labels} labels, "
          f"LogisticRegression(max_iter=2000), cv=3, 1 BLAS thread; median of {args.repeats} calls")
    parts = ["fit", "scoring", "predict", "ordering", "overhead", "total"]
    print(f"{'strategy':<10}" + "".join(f"{p:>10}" for p in parts) + f"{'overhead %':>12}{'CV acc':>8}")
    for name in args.strategies:
        strategy = None if name == "default" else name
        try:
            Learner(LogisticRegression(max_iter=2000), strategy=strategy)._strategy()
        except Exception as exc:  # the default strategy may not be installed yet
            print(f"{name:<10} unavailable: {exc}")
            continue
        runs = []
        for repeat in range(args.repeats + 1):  # the first call warms imports up; not counted
            learner = Learner(LogisticRegression(max_iter=2000), strategy=strategy, batch_size=10,
                              random_state=repeat)
            kwargs = {}
            if args.audited and "audited" in Learner.retrain.__code__.co_varnames:
                rows = np.arange(min(args.audited, args.labels))
                kwargs["audited"] = pd.DataFrame(
                    {"row": rows, "probability": 1.0 / len(X_pool), "support": len(X_pool), "seq": rows})
            result = learner.retrain(X_lab, y_lab, X_pool, **kwargs)
            if repeat:
                estimate = getattr(result, "estimate", None)
                if "estimate" in result.timings:
                    result.timings["estimate_s"] = result.timings.pop("estimate")
                runs.append({"estimate_s": 0.0, **result.timings, "overhead": result.overhead, "score": result.score,
                             "estimate": estimate.value if estimate is not None and estimate.value is not None else float("nan")})
        med = {k: statistics.median(r[k] for r in runs) for k in [*parts, "score"]}
        print(f"{name:<10}" + "".join(f"{med[p]:10.3f}" for p in parts)
              + f"{100 * med['overhead'] / med['total']:11.1f}%{med['score']:8.3f}"
              + (f"  estimate {runs[-1]['estimate']:.3f} (computed in "
                 f"{statistics.median(r['estimate_s'] for r in runs) * 1000:.1f} ms)"
                 if runs[-1]["estimate"] == runs[-1]["estimate"] else ""))
    print("seconds; overhead = total - (fit + scoring + predict). Goals: total < 2 s, overhead < 5 %.")


if __name__ == "__main__":
    main()
