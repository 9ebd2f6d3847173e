"""Orderings at 1,000,000 × 10: ours against superintendent 0.6.0's same functions.

Run: /work/main/.bench-venv/bin/python benchmarks/bench_orderings.py   (or any Python with
superintendent 0.6.0 installed; without it only our figures are printed).

Measures, per criterion, the median of several runs of:
  * "next 100": the first 100 items of the order. Ours: ``f(p, n_items=100)``
    (a partition, no full sort). superintendent has no such call: it always ranks
    the whole pool, so its figure is its full call, then picking the 100 ranked first.
  * "full order": the whole order. Ours: ``f(p)``. superintendent's functions return
    *ranks* (argsort().argsort()); we time its call plus the argsort that turns ranks
    into an order, and separately its bare call.
Both sides use shuffle_prop=0 (superintendent defaults to 0.1, which would add work).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from superintendent_core.strategies import uncertainty as ours


def _median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    p = rng.random((args.rows, args.classes))
    p /= p.sum(axis=1, keepdims=True)

    try:
        from superintendent import acquisition_functions as peer
    except ImportError:
        peer = None
        print("superintendent 0.6.0 is not importable here: printing our figures only.")

    print(f"pool: {args.rows:,} × {args.classes}, float64; median of {args.repeats} runs; seconds")
    header = f"{'criterion':<10} {'what':<11} {'ours':>8} {'peer':>8} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for name in ("margin", "entropy", "certainty"):
        function = getattr(ours, name)
        ours_next = _median_seconds(lambda f=function: f(p, n_items=100), args.repeats)
        ours_full = _median_seconds(lambda f=function: f(p), args.repeats)
        if peer is not None:
            peer_function = getattr(peer, name)
            # Same answer first: the peer's ranks sorted give our order up to ties.
            check = np.argsort(peer_function(p[:2000], shuffle_prop=0.0), kind="stable")
            assert np.array_equal(check, function(p[:2000])), f"{name}: orders differ"
            peer_full = _median_seconds(
                lambda f=peer_function: np.argsort(f(p, shuffle_prop=0.0)), args.repeats
            )
            peer_next = _median_seconds(
                lambda f=peer_function: np.argpartition(f(p, shuffle_prop=0.0), 100)[:100], args.repeats
            )
            rows = [("next 100", ours_next, peer_next), ("full order", ours_full, peer_full)]
        else:
            rows = [("next 100", ours_next, None), ("full order", ours_full, None)]
        for what, mine, theirs in rows:
            ratio = f"{theirs / mine:6.1f}×" if theirs else "   n/a"
            theirs_text = f"{theirs:8.3f}" if theirs else "     n/a"
            print(f"{name:<10} {what:<11} {mine:8.3f} {theirs_text} {ratio}")
    print("ratio = peer seconds / our seconds (higher is better for us). Goals: next 100 ≥ 3×, full ≥ 2×.")


if __name__ == "__main__":
    main()
