"""How fast is "Show similar"? Exact cosine neighbours at 100k items, against scikit-learn in the same run.

Run: nice -n 10 python3 benchmarks/bench_similar.py [--n 100000] [--dims 64 1280] [--queries 20] [--k 24]
     [--store]

For each dimension: random float32 features (clustered, seeded), then

- build: :func:`superintendent_core.learning.similar.build_index` (a normalised float32 copy; once per pool,
  cached process-wide by the app);
- query: :meth:`SimilarIndex.query` for ``--queries`` random items (k nearest, self excluded), median ms;
- peer: ``sklearn.neighbors.NearestNeighbors(metric="cosine", algorithm="brute")``: fit once, then
  ``kneighbors`` of one row at a time, median ms; the results are checked to name the same neighbours.

``--store`` also times the first (uncached) and second (cached) call of ``similar_items`` on a folder
project holding the features (64 dimensions only; the project is written to a temporary folder).
The machine's load (``os.getloadavg``) is printed with the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from superintendent_core.learning.similar import build_index, clear_cache, similar_items  # noqa: E402


def features(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, d)).astype(np.float32)
    return centres[rng.integers(0, 50, n)] + 0.5 * rng.normal(size=(n, d)).astype(np.float32)


def run(n: int, d: int, queries: int, k: int) -> None:
    X = features(n, d)
    rng = np.random.default_rng(1)
    picks = rng.choice(n, queries, replace=False)
    t0 = time.perf_counter()
    index = build_index(X, "array")
    build = time.perf_counter() - t0
    ours, got = [], []
    for i in picks:
        t0 = time.perf_counter()
        ids, _ = index.query(int(i), k)
        ours.append(time.perf_counter() - t0)
        got.append(ids)
    from sklearn.neighbors import NearestNeighbors

    t0 = time.perf_counter()
    nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(X)
    fit = time.perf_counter() - t0
    theirs, same = [], 0
    for i, mine in zip(picks, got, strict=True):
        t0 = time.perf_counter()
        _, idx = nn.kneighbors(X[int(i) : int(i) + 1])
        theirs.append(time.perf_counter() - t0)
        ref = [j for j in idx[0].tolist() if j != int(i)][:k]
        same += len(set(ref) & set(mine.tolist())) >= k - 1  # float rounding may swap the last neighbour
    q_ours, q_theirs = np.median(ours) * 1e3, np.median(theirs) * 1e3
    print(f"n={n} d={d}: build {build:.2f} s (sklearn fit {fit:.2f} s); query median {q_ours:.1f} ms "
          f"(p90 {np.percentile(ours, 90) * 1e3:.1f}), sklearn brute cosine {q_theirs:.1f} ms "
          f"-> {q_theirs / q_ours:.1f}x faster; same neighbours {same}/{queries}; "
          f"matrix {index.matrix.nbytes / 2**20:.0f} MiB; load {os.getloadavg()[0]:.2f}", flush=True)


def run_store(n: int, k: int) -> None:
    from superintendent_core.store import ItemBatch, ProjectSettings
    from superintendent_core.store.folder import FolderStore

    X = features(n, 64)
    with tempfile.TemporaryDirectory() as tmp:
        store = FolderStore(Path(tmp) / "p", settings=ProjectSettings(classes=("a", "b")), sync=False)
        names = tuple(f"item{i}" for i in range(n))
        store.add_items(ItemBatch(names=names, kind="image", features=X, image_shape=(8, 8), pixel_max=1.0))
        clear_cache()
        t0 = time.perf_counter()
        similar_items(store, 0, k)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        similar_items(store, 1, k)
        second = time.perf_counter() - t0
        store.close()
    print(f"folder project n={n} d=64: first call (reads and normalises the features) {first:.2f} s, "
          f"next call {second * 1e3:.1f} ms; load {os.getloadavg()[0]:.2f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dims", type=int, nargs="+", default=[64, 1280])
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--k", type=int, default=24)
    ap.add_argument("--store", action="store_true")
    args = ap.parse_args()
    for d in args.dims:
        run(args.n, d, args.queries, args.k)
    if args.store:
        run_store(args.n, args.k)


if __name__ == "__main__":
    main()
